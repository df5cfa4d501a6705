//! An organization's team: admins add members, change roles, remove members and reset a
//! member's password; everyone changes their own name and password.
//!
//! An account (email, names, password) may belong to several organizations, so an admin
//! of one never changes what the account's owner uses elsewhere: adding an existing
//! account makes it a member and nothing more, and only a member who belongs to no other
//! organization can have their password reset by an admin. Every organization keeps at
//! least one admin: the checks run inside the write, after the organization's row is
//! locked, so two admins demoting each other at once cannot both succeed.

use std::net::IpAddr;

use rapport_core::{time, validate, FieldErrors};
use rapport_store::{DbError, SqlValue, Stmt};
use serde_json::{Map, Value};

use crate::accounts::key_hash;
use crate::events::NewEvent;
use crate::limits::{self, LimitedResult};
use crate::roles::{Permission, Role};
use crate::{passwords, Actor, Crm, CrmError, CrmResult};

/// How long a "forgot password" link works.
pub const RESET_SECONDS: i64 = 3600;
/// Reset links an account may be sent per hour.
pub const RESETS_PER_HOUR: i64 = 3;

/// A reset link to email: to whom, and the token it carries (shown nowhere else).
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub email: String,
    pub token: String,
}

/// Longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Removes the membership unless it is the organization's last admin.
const DELETE_UNLESS_LAST_ADMIN: &str = "DELETE FROM memberships WHERE organization_id = ? AND user_id = ? \
     AND (role <> 'admin' OR (SELECT COUNT(*) FROM memberships WHERE organization_id = ? AND role = 'admin') > 1)";
/// Changes the role unless that leaves the organization without an admin.
const SET_ROLE_UNLESS_LAST_ADMIN: &str = "UPDATE memberships SET role = ? WHERE organization_id = ? AND user_id = ? \
     AND (? = 'admin' OR role <> 'admin' OR (SELECT COUNT(*) FROM memberships WHERE organization_id = ? AND role = 'admin') > 1)";

fn text<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

/// A first or last name: trimmed, no control characters, bounded.
fn name(input: &Value, field: &str, errors: &mut FieldErrors) -> Option<String> {
    match input.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            errors.add(field, "must not contain control characters");
            None
        }
        Some(Value::String(s)) if s.trim().chars().count() > MAX_NAME_CHARS => {
            errors.add(field, format!("at most {MAX_NAME_CHARS} characters"));
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => {
            errors.add(field, "expected a string");
            None
        }
    }
}

impl Crm {
    /// `POST /user/`: an admin adds a member. A new account logs in with `password`; an
    /// existing one keeps its own password and names, and simply joins.
    pub async fn create_user(&self, actor: &Actor, input: &Value) -> CrmResult<Value> {
        actor.require(Permission::ManageUsers)?;
        let mut errors = FieldErrors::new();
        if !input.is_object() {
            return Err(FieldErrors::general("expected a JSON object").into());
        }
        let email = match text(input, "email").map(validate::email) {
            Some(Ok(email)) => email.to_lowercase(),
            Some(Err(message)) => {
                errors.add("email", message);
                String::new()
            }
            None => {
                errors.add("email", "required");
                String::new()
            }
        };
        let first_name = name(input, "first_name", &mut errors).unwrap_or_default();
        let last_name = name(input, "last_name", &mut errors).unwrap_or_default();
        let role = match input.get("role") {
            None | Some(Value::Null) => Role::Member,
            Some(value) => value.as_str().and_then(Role::parse).unwrap_or_else(|| {
                errors.add("role", "must be admin or member");
                Role::Member
            }),
        };
        let password = text(input, "password");
        match password {
            Some(p) => {
                if let Err(CrmError::Invalid(e)) = passwords::check("password", p) {
                    errors.merge_prefixed("", e);
                }
            }
            None => errors.add("password", "required: the new member's first password"),
        }
        errors.into_result(())?;
        let existing = self
            .db
            .query_opt("SELECT id FROM users WHERE email = ?", &[email.as_str().into()])
            .await?;
        // Only a new account takes the password; hashing it for an existing one would
        // also tell the caller, by the time taken, nothing they may not know.
        let hash = match (&existing, password) {
            (None, Some(p)) => Some(passwords::hash("password", p).await?),
            _ => None,
        };
        let member = self
            .add_member(
                &actor.organization_id,
                &email,
                &first_name,
                &last_name,
                role.as_str(),
                hash,
            )
            .await?;
        self.user(actor, &member.user_id).await
    }

    /// `PUT /user/{id}/`: one's own `first_name` and `last_name`; an admin sets a
    /// member's `role`.
    pub async fn update_user(&self, actor: &Actor, id: &str, input: &Value) -> CrmResult<Value> {
        let before = self.user(actor, id).await?;
        let Some(fields) = input.as_object() else {
            return Err(FieldErrors::general("expected a JSON object").into());
        };
        let mut errors = FieldErrors::new();
        let own = id == actor.user_id;
        let mut names = Vec::new();
        let mut role = None;
        for (field, value) in fields {
            match field.as_str() {
                "first_name" | "last_name" if !own => {
                    if value != &before[field.as_str()] {
                        errors.add(field, "only the user changes their own name");
                    }
                }
                "first_name" | "last_name" => {
                    if let Some(n) = name(input, field, &mut errors) {
                        names.push((field.as_str(), n));
                    }
                }
                "role" => match value.as_str().and_then(Role::parse) {
                    Some(r) if r.as_str() == before["role"] => {}
                    Some(r) => role = Some(r),
                    None => errors.add("role", "must be admin or member"),
                },
                // Read-only fields sent back unchanged, as clients do after a GET.
                _ if value == &before[field.as_str()] => {}
                _ => errors.add(field, "unknown or read-only field for a user"),
            }
        }
        errors.into_result(())?;
        if role.is_some() {
            actor.require(Permission::ManageUsers)?;
        }
        let now = time::format(time::now());
        let mut stmts = vec![Stmt::one(
            "UPDATE organizations SET meta_version = meta_version + 1 WHERE id = ?",
            vec![actor.organization_id.as_str().into()],
        )];
        for (field, value) in &names {
            stmts.push(Stmt::new(
                format!("UPDATE users SET {field} = ?, date_updated = ? WHERE id = ?"),
                vec![value.as_str().into(), now.as_str().into(), id.into()],
            ));
        }
        if let Some(role) = role {
            let r = role.as_str();
            stmts.push(Stmt::one(
                SET_ROLE_UNLESS_LAST_ADMIN,
                vec![
                    r.into(),
                    actor.organization_id.as_str().into(),
                    id.into(),
                    r.into(),
                    actor.organization_id.as_str().into(),
                ],
            ));
        }
        if names.is_empty() && role.is_none() {
            return Ok(before);
        }
        let mut after = before.clone();
        for (field, value) in &names {
            after[*field] = value.as_str().into();
        }
        if let Some(role) = role {
            after["role"] = role.as_str().into();
        }
        self.write_membership_change(actor, stmts, "updated", &before, &after, &now)
            .await
            .map_err(|e| match e {
                CrmError::Db(DbError::Conflict) => last_admin(),
                e => e,
            })?;
        self.user(actor, id).await
    }

    /// `DELETE /user/{id}/`: the member leaves the organization; their API keys and
    /// sessions there end at once, what they wrote stays.
    pub async fn remove_member(&self, actor: &Actor, id: &str) -> CrmResult<()> {
        actor.require(Permission::ManageUsers)?;
        let before = self.user(actor, id).await?;
        let org = actor.organization_id.as_str();
        let stmts = vec![
            Stmt::one(
                "UPDATE organizations SET meta_version = meta_version + 1 WHERE id = ?",
                vec![org.into()],
            ),
            Stmt::one(DELETE_UNLESS_LAST_ADMIN, vec![org.into(), id.into(), org.into()]),
            Stmt::new(
                "DELETE FROM api_keys WHERE organization_id = ? AND user_id = ?",
                vec![org.into(), id.into()],
            ),
            Stmt::new(
                "DELETE FROM sessions WHERE organization_id = ? AND user_id = ?",
                vec![org.into(), id.into()],
            ),
            Stmt::new(
                "DELETE FROM drafts WHERE organization_id = ? AND user_id = ?",
                vec![org.into(), id.into()],
            ),
        ];
        let now = time::format(time::now());
        self.write_membership_change(actor, stmts, "deleted", &before, &Value::Null, &now)
            .await
            .map_err(|e| match e {
                CrmError::Db(DbError::Conflict) => last_admin(),
                e => e,
            })
    }

    /// `POST /me/password/` `{current_password, password}`: the caller's new password;
    /// their other sessions end.
    pub async fn change_own_password(&self, actor: &Actor, input: &Value) -> CrmResult<()> {
        let current = text(input, "current_password").unwrap_or_default();
        let new = text(input, "password").unwrap_or_default();
        if current.is_empty() {
            return Err(FieldErrors::field("current_password", "required").into());
        }
        passwords::check("password", new)?;
        let stored = match self
            .db
            .query_opt(
                "SELECT password_hash FROM users WHERE id = ?",
                &[actor.user_id.as_str().into()],
            )
            .await?
        {
            Some(r) => r.get::<Option<String>>("password_hash")?,
            None => None,
        };
        if !passwords::verify(stored, current).await? {
            return Err(FieldErrors::field("current_password", "is not your current password").into());
        }
        let hash = passwords::hash("password", new).await?;
        self.store_password(&actor.user_id, hash).await
    }

    /// `POST /user/{id}/password/` `{password}`: an admin sets a member's password, when
    /// the member belongs to no other organization (else the account is not the admin's
    /// to change: the member resets it themselves).
    pub async fn reset_member_password(&self, actor: &Actor, id: &str, input: &Value) -> CrmResult<()> {
        actor.require(Permission::ManageUsers)?;
        self.user(actor, id).await?;
        let password = text(input, "password").unwrap_or_default();
        passwords::check("password", password)?;
        let elsewhere = self
            .db
            .query_opt(
                "SELECT organization_id FROM memberships WHERE user_id = ? AND organization_id <> ? LIMIT 1",
                &[id.into(), actor.organization_id.as_str().into()],
            )
            .await?;
        if elsewhere.is_some() {
            return Err(CrmError::Forbidden(
                "this user also belongs to another organization; they change their own password (\"forgot password\" on the login page)".into(),
            ));
        }
        let hash = passwords::hash("password", password).await?;
        self.store_password(id, hash).await
    }

    /// "Forgot password", asked from the client at `address`: a single-use token for the
    /// account with `email`, valid for [`RESET_SECONDS`], stored as a hash; `None` for an
    /// unknown email, or one that asked [`RESETS_PER_HOUR`] times within the hour already
    /// (no mailbox flooded). The caller answers alike in every case, so nobody learns which
    /// emails have accounts.
    ///
    /// In this order: the email is checked (a bad one costs nothing), then the address is
    /// charged one of [`limits::PASSWORD_RESETS`], then, when the server cannot send the
    /// link (`can_send` false: no SMTP), the request is refused as `Unavailable`.
    pub async fn request_password_reset(
        &self,
        address: IpAddr,
        email: &str,
        can_send: bool,
    ) -> LimitedResult<Option<PasswordReset>> {
        let email = match validate::email(email) {
            Ok(email) => email.to_lowercase(),
            Err(message) => return Err(FieldErrors::field("email", message).into()),
        };
        self.charge_client(&limits::PASSWORD_RESETS, address).await?;
        if !can_send {
            return Err(CrmError::Unavailable(
                "this server sends no email (no SMTP configured); an admin can set a new password for you".into(),
            )
            .into());
        }
        Ok(self.new_password_reset(email).await?)
    }

    /// A reset token for the account with `email` (checked, lower case), unless it has
    /// none or asked [`RESETS_PER_HOUR`] times within the hour.
    async fn new_password_reset(&self, email: String) -> CrmResult<Option<PasswordReset>> {
        let Some(user) = self
            .db
            .query_opt("SELECT id FROM users WHERE email = ?", &[email.as_str().into()])
            .await?
        else {
            return Ok(None);
        };
        let user_id = user.get::<String>("id")?;
        let now = time::now().timestamp();
        let recent = match self
            .db
            .query_opt(
                "SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ? AND expires_at > ?",
                &[user_id.as_str().into(), SqlValue::Int(now)],
            )
            .await?
        {
            Some(r) => r.get::<i64>("n")?,
            None => 0,
        };
        if recent >= RESETS_PER_HOUR {
            return Ok(None);
        }
        let token = crate::sessions::secret("reset");
        self.db
            .batch(vec![
                Stmt::new(
                    "DELETE FROM password_resets WHERE expires_at <= ?",
                    vec![SqlValue::Int(now)],
                ),
                Stmt::new(
                    "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                    vec![
                        key_hash(&token).into(),
                        user_id.into(),
                        SqlValue::Int(now + RESET_SECONDS),
                    ],
                ),
            ])
            .await?;
        Ok(Some(PasswordReset { email, token }))
    }

    /// Sets the password of the account a reset token was made for; the token is used up,
    /// with any other of the account's, and every session of the account ends.
    pub async fn reset_password(&self, token: &str, password: &str) -> CrmResult<()> {
        passwords::check("password", password)?;
        let now = time::now().timestamp();
        let row = self
            .db
            .query_opt(
                "SELECT user_id FROM password_resets WHERE token_hash = ? AND expires_at > ?",
                &[key_hash(token).into(), SqlValue::Int(now)],
            )
            .await?;
        let invalid = || FieldErrors::field("token", "this link is invalid, used or expired; ask for a new one").into();
        let Some(row) = row else { return Err(invalid()) };
        let user_id = row.get::<String>("user_id")?;
        let hash = passwords::hash("password", password).await?;
        // The token is taken in the same write that sets the password: used once only.
        let mut stmts = vec![
            Stmt::one(
                "DELETE FROM password_resets WHERE token_hash = ? AND expires_at > ?",
                vec![key_hash(token).into(), SqlValue::Int(now)],
            ),
            Stmt::new(
                "DELETE FROM password_resets WHERE user_id = ?",
                vec![user_id.as_str().into()],
            ),
        ];
        stmts.extend(password_stmts(&user_id, hash));
        let taken = self.db.batch(stmts).await;
        match taken {
            Ok(_) => Ok(()),
            Err(DbError::Conflict) => Err(invalid()),
            Err(e) => Err(e.into()),
        }
    }

    /// The CLI's actor in `organization_id`: the machine's operator acts as an admin; as
    /// the member with `email` when given (who must belong to it).
    pub async fn operator_actor(&self, organization_id: &str, email: Option<&str>) -> CrmResult<Actor> {
        let org = self
            .db
            .query_opt("SELECT id FROM organizations WHERE id = ?", &[organization_id.into()])
            .await?;
        if org.is_none() {
            return Err(CrmError::Refused(format!("no organization `{organization_id}`")));
        }
        let user_id = match email {
            Some(email) => {
                let email = email.trim().to_lowercase();
                let row = self
                    .db
                    .query_opt(
                        "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.email = ? AND m.organization_id = ?",
                        &[email.as_str().into(), organization_id.into()],
                    )
                    .await?
                    .ok_or_else(|| CrmError::Refused(format!("`{email}` is not a member of `{organization_id}`")))?;
                row.get::<String>("id")?
            }
            None => String::new(),
        };
        Ok(Actor {
            organization_id: organization_id.into(),
            user_id,
            role: Role::Admin.as_str().into(),
            meta_version: 0,
        })
    }

    /// The machine's operator sets an account's password (`rapport user password`).
    pub async fn set_password_by_operator(&self, email: &str, password: &str) -> CrmResult<()> {
        let row = self
            .db
            .query_opt(
                "SELECT id FROM users WHERE email = ?",
                &[email.trim().to_lowercase().into()],
            )
            .await?
            .ok_or_else(|| CrmError::Refused(format!("no account with email `{}`", email.trim())))?;
        let hash = passwords::hash("password", password).await?;
        self.store_password(row.get("id")?, hash).await
    }

    /// Stores a password hash; every session of the user ends with the old password.
    pub(crate) async fn store_password(&self, user_id: &str, hash: String) -> CrmResult<()> {
        self.db.batch(password_stmts(user_id, hash)).await?;
        Ok(())
    }

    async fn write_membership_change(
        &self,
        actor: &Actor,
        mut stmts: Vec<Stmt>,
        action: &'static str,
        before: &Value,
        after: &Value,
        now: &str,
    ) -> CrmResult<()> {
        let as_map = |v: &Value| crate::accounts::as_map(v.clone());
        let id = before["id"].as_str().unwrap_or_default();
        let changed: Vec<String> = match after {
            Value::Object(a) => a
                .iter()
                .filter(|(k, v)| before.get(k.as_str()) != Some(v))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => vec![],
        };
        let data = match after {
            Value::Object(_) => as_map(after),
            _ => Map::new(),
        };
        let event = NewEvent::new("membership", id, None, action, changed, as_map(before), data);
        self.db.dialect().append_events(
            &mut stmts,
            [event.insert_stmt(&actor.organization_id, Some(&actor.user_id), now)],
        );
        self.db.batch(stmts).await?;
        Ok(())
    }
}

/// A new password hash, and the end of every session that knew the old password.
fn password_stmts(user_id: &str, hash: String) -> Vec<Stmt> {
    vec![
        Stmt::one(
            "UPDATE users SET password_hash = ?, date_updated = ? WHERE id = ?",
            vec![hash.into(), time::format(time::now()).into(), user_id.into()],
        ),
        Stmt::new("DELETE FROM sessions WHERE user_id = ?", vec![user_id.into()]),
    ]
}

fn last_admin() -> CrmError {
    CrmError::Refused("an organization keeps at least one admin; make someone else admin first".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        let mut errors = FieldErrors::new();
        let input = json!({"a": "  Mia ", "b": "x".repeat(MAX_NAME_CHARS + 1), "c": "M\u{0}ia", "d": 3});
        assert_eq!(name(&input, "a", &mut errors).as_deref(), Some("Mia"));
        for field in ["b", "c", "d"] {
            assert_eq!(name(&input, field, &mut errors), None);
        }
        assert_eq!(errors.fields.len(), 3, "{errors:?}");
    }
}
