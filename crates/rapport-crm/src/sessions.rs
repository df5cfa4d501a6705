//! People, as opposed to programs: password logins with a session cookie and a CSRF token
//! (the web app), the users of an organization, the caller's API keys, and per-user drafts
//! that the app autosaves.
//!
//! A session token and an API key are stored only as SHA-256 hashes: a copy of the
//! database lets nobody act as a user.

use std::net::IpAddr;

use rapport_core::{new_id, time, FieldErrors};
use rapport_store::{DbResult, Row, SqlValue};
use serde_json::{json, Value};

use crate::accounts::key_hash;
use crate::limits::{self, LimitedResult};
use crate::passwords;
use crate::{Actor, Crm, CrmError, CrmResult};

/// How long a login lasts.
pub const SESSION_SECONDS: i64 = 30 * 24 * 3600;
/// Longest draft body, in characters.
pub const MAX_DRAFT_CHARS: usize = 100_000;
const MAX_DRAFT_KEY_CHARS: usize = 200;
/// Drafts one user may keep in one organization.
pub const MAX_DRAFTS: i64 = 1_000;
/// Failed logins an email may have within [`LOGIN_WINDOW_SECONDS`]; past them a login is
/// refused before its password is checked, until the oldest failure leaves the window.
/// Counted in the store, so that every node enforces one limit; by email, so that
/// guessing one user's password from many addresses is as slow as from one.
pub const LOGIN_FAILURES_ALLOWED: i64 = 10;
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

/// A login: the cookie's token, and the token every write must echo in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf_token: String,
    pub actor: Actor,
}

fn unix_now() -> i64 {
    time::now().timestamp()
}

/// "40 seconds", "1 minute", "15 minutes": a wait as a person reads it (rounded up).
pub(crate) fn wait_text(seconds: u64) -> String {
    match seconds {
        1 => "1 second".into(),
        0..60 => format!("{seconds} seconds"),
        _ => match seconds.div_ceil(60) {
            1 => "1 minute".into(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

/// A random token of 256 bits, base 62.
pub(crate) fn secret(prefix: &str) -> String {
    format!("{prefix}_{}{}", &new_id("x")[2..], &new_id("x")[2..])
}

impl Crm {
    /// Checks an email and password from the client at `address`; a new session when they
    /// match a member. `None` for an unknown email or a wrong password alike, so that a
    /// caller cannot tell them apart.
    ///
    /// The address is charged one of [`limits::LOGINS`] before anything else, even before
    /// the input is checked; then the email's failed logins are counted
    /// ([`LOGIN_FAILURES_ALLOWED`]) before the password is checked.
    pub async fn login(
        &self,
        address: IpAddr,
        email: &str,
        password: &str,
        organization_id: Option<&str>,
    ) -> LimitedResult<Option<Session>> {
        self.charge_client(&limits::LOGINS, address).await?;
        Ok(self.check_login(email, password, organization_id).await?)
    }

    /// [`Crm::login`] once the client's allowance is charged.
    async fn check_login(
        &self,
        email: &str,
        password: &str,
        organization_id: Option<&str>,
    ) -> CrmResult<Option<Session>> {
        let mut errors = FieldErrors::new();
        if email.trim().is_empty() {
            errors.add("email", "required");
        }
        if password.is_empty() {
            errors.add("password", "required");
        }
        errors.into_result(())?;
        let email = email.trim().to_lowercase();
        self.count_login_attempt(&email).await?;
        let rows = self
            .db
            .query(
                "SELECT u.id, u.password_hash, m.organization_id, m.role, o.meta_version FROM users u \
                 JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.organization_id \
                 WHERE u.email = ? ORDER BY m.date_created",
                &[email.as_str().into()],
            )
            .await?;
        let mut member = None;
        for r in &rows {
            let org = r.get::<&str>("organization_id")?;
            if organization_id.is_none_or(|wanted| org == wanted) {
                member = Some(r);
                break;
            }
        }
        let stored = match member {
            Some(r) => r.get::<Option<String>>("password_hash")?,
            None => None,
        };
        let valid = passwords::verify(stored, password).await?;
        let Some(member) = member.filter(|_| valid) else {
            // The attempt's row stays: it is the failure the throttle counts.
            return Ok(None);
        };
        self.db
            .execute_alone(
                "DELETE FROM login_attempts WHERE email_hash = ?",
                vec![key_hash(&email).into()],
            )
            .await?;
        let session = Session {
            token: secret("sess"),
            csrf_token: secret("csrf"),
            actor: Actor {
                organization_id: member.get::<String>("organization_id")?,
                user_id: member.get::<String>("id")?,
                role: member.get::<String>("role")?,
                meta_version: member.get("meta_version")?,
            },
        };
        let now = unix_now();
        self.db
            .execute(
                "INSERT INTO sessions (token_hash, user_id, organization_id, csrf_token, date_created, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    key_hash(&session.token).into(),
                    session.actor.user_id.clone().into(),
                    session.actor.organization_id.clone().into(),
                    session.csrf_token.clone().into(),
                    time::format(time::now()).into(),
                    SqlValue::Int(now + SESSION_SECONDS),
                ],
            )
            .await?;
        // Expired sessions of anyone go when someone logs in: the table stays small.
        self.db
            .execute("DELETE FROM sessions WHERE expires_at < ?", vec![SqlValue::Int(now)])
            .await?;
        Ok(Some(session))
    }

    /// Records a login attempt for `email` (a failure unless the login succeeds and clears
    /// them), or refuses it when the email's recent attempts already reach the limit.
    /// Recorded before counting, so that attempts made at once on several nodes cannot all
    /// pass: the k-th sees at least k. The email is stored hashed: whatever was typed in
    /// the field (a password, sometimes) is not kept, and any length fits the index.
    async fn count_login_attempt(&self, email: &str) -> CrmResult<()> {
        let now = unix_now();
        let since = now - LOGIN_WINDOW_SECONDS;
        let id = new_id("login");
        let email_hash = key_hash(email);
        self.db
            .execute_alone(
                "INSERT INTO login_attempts (id, email_hash, at) VALUES (?, ?, ?)",
                vec![id.as_str().into(), email_hash.as_str().into(), SqlValue::Int(now)],
            )
            .await?;
        let row = self
            .db
            .query_opt(
                "SELECT COUNT(*) AS attempts, MIN(at) AS oldest FROM login_attempts WHERE email_hash = ? AND at > ?",
                &[email_hash.into(), SqlValue::Int(since)],
            )
            .await?;
        let (attempts, oldest) = match row {
            Some(r) => (
                r.get::<i64>("attempts")?,
                r.get::<Option<i64>>("oldest")?.unwrap_or(now),
            ),
            None => (0, now),
        };
        if attempts <= LOGIN_FAILURES_ALLOWED {
            return Ok(());
        }
        // A refused attempt is not counted: the wait ends when the oldest failure expires.
        self.db
            .execute_alone("DELETE FROM login_attempts WHERE id = ?", vec![id.into()])
            .await?;
        Err(CrmError::TooManyLogins {
            retry_after_seconds: (oldest + LOGIN_WINDOW_SECONDS - now).max(1) as u64,
        })
    }

    /// Forgets the login attempts older than the window; how many.
    pub async fn purge_login_attempts(&self) -> CrmResult<u64> {
        let since = unix_now() - LOGIN_WINDOW_SECONDS;
        let out = self
            .db
            .execute_alone("DELETE FROM login_attempts WHERE at <= ?", vec![SqlValue::Int(since)])
            .await?;
        Ok(out.affected)
    }

    /// The session behind a cookie's token, while it lasts, its user is still a member
    /// and it was used within `idle_seconds` (a new session counts as used when made).
    /// Its use is recorded at most every `idle_seconds / 8` (and a minute).
    pub async fn authenticate_session(&self, token: &str, idle_seconds: i64) -> CrmResult<Option<Session>> {
        let now = unix_now();
        let idle_seconds = idle_seconds.max(1);
        let row = self
            .db
            .query_opt(
                "SELECT s.organization_id, s.user_id, m.role, o.meta_version, s.csrf_token, s.last_seen, s.expires_at FROM sessions s \
                 JOIN memberships m ON m.organization_id = s.organization_id AND m.user_id = s.user_id \
                 JOIN organizations o ON o.id = s.organization_id WHERE s.token_hash = ? AND s.expires_at > ?",
                &[key_hash(token).into(), SqlValue::Int(now)],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        // Made at `expires_at - SESSION_SECONDS`; `last_seen` is 0 until first recorded.
        let last_seen = r
            .get::<i64>("last_seen")?
            .max(r.get::<i64>("expires_at")? - SESSION_SECONDS);
        if now - last_seen >= idle_seconds {
            return Ok(None);
        }
        if now - last_seen >= (idle_seconds / 8).min(60) {
            self.db
                .execute_alone(
                    "UPDATE sessions SET last_seen = ? WHERE token_hash = ?",
                    vec![SqlValue::Int(now), key_hash(token).into()],
                )
                .await?;
        }
        Ok(Some(Session {
            token: token.to_string(),
            csrf_token: r.get("csrf_token")?,
            actor: Actor {
                organization_id: r.get("organization_id")?,
                user_id: r.get("user_id")?,
                role: r.get("role")?,
                meta_version: r.get("meta_version")?,
            },
        }))
    }

    pub async fn logout(&self, token: &str) -> CrmResult<()> {
        self.db
            .execute(
                "DELETE FROM sessions WHERE token_hash = ?",
                vec![key_hash(token).into()],
            )
            .await?;
        Ok(())
    }

    /// `GET /api_key/`: the caller's API keys (never the keys themselves).
    pub async fn api_keys(&self, actor: &Actor) -> CrmResult<Vec<Value>> {
        let rows = self
            .db
            .query(
                "SELECT id, name, date_created FROM api_keys WHERE organization_id = ? AND user_id = ? ORDER BY date_created, id",
                &[actor.organization_id.clone().into(), actor.user_id.clone().into()],
            )
            .await?;
        let keys = rows
            .iter()
            .map(|r| -> DbResult<Value> {
                Ok(json!({
                    "id": r.get::<&str>("id")?,
                    "name": r.get::<&str>("name")?,
                    "date_created": r.get::<&str>("date_created")?,
                }))
            })
            .collect::<DbResult<_>>()?;
        Ok(keys)
    }

    /// `POST /api_key/`: a new key for the caller; the answer is the only time it is shown.
    pub async fn create_own_api_key(&self, actor: &Actor, input: &Value) -> CrmResult<Value> {
        let name = input
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(FieldErrors::field("name", "required: what the key is for").into());
        }
        let created = self
            .insert_api_key(&actor.organization_id, &actor.user_id, &name)
            .await?;
        Ok(json!({"id": created.id, "name": name, "key": created.key, "date_created": created.date_created}))
    }

    pub async fn delete_api_key(&self, actor: &Actor, id: &str) -> CrmResult<()> {
        let deleted = self
            .db
            .execute(
                "DELETE FROM api_keys WHERE id = ? AND organization_id = ? AND user_id = ?",
                vec![
                    id.into(),
                    actor.organization_id.clone().into(),
                    actor.user_id.clone().into(),
                ],
            )
            .await?;
        if deleted.affected == 0 {
            return Err(CrmError::NotFound);
        }
        Ok(())
    }

    /// `GET /draft/`: the caller's drafts, newest first.
    pub async fn drafts(&self, actor: &Actor) -> CrmResult<Vec<Value>> {
        let rows = self
            .db
            .query(
                "SELECT draft_key, body, date_updated FROM drafts WHERE organization_id = ? AND user_id = ? ORDER BY date_updated DESC",
                &[actor.organization_id.clone().into(), actor.user_id.clone().into()],
            )
            .await?;
        Ok(rows.iter().map(render_draft).collect::<DbResult<_>>()?)
    }

    pub async fn draft(&self, actor: &Actor, key: &str) -> CrmResult<Value> {
        let row = self
            .db
            .query_opt(
                "SELECT draft_key, body, date_updated FROM drafts WHERE organization_id = ? AND user_id = ? AND draft_key = ?",
                &[actor.organization_id.clone().into(), actor.user_id.clone().into(), key.into()],
            )
            .await?;
        row.as_ref().map(render_draft).transpose()?.ok_or(CrmError::NotFound)
    }

    /// `PUT /draft/{key}/`: saves `body` (a string) as the caller's draft under `key`.
    pub async fn save_draft(&self, actor: &Actor, key: &str, input: &Value) -> CrmResult<Value> {
        let mut errors = FieldErrors::new();
        if key.is_empty() || key.chars().count() > MAX_DRAFT_KEY_CHARS {
            errors.add("key", format!("1 to {MAX_DRAFT_KEY_CHARS} characters"));
        }
        let body = match input.get("body") {
            Some(Value::String(body)) if body.chars().count() <= MAX_DRAFT_CHARS => body.clone(),
            Some(Value::String(_)) => {
                errors.add("body", format!("at most {MAX_DRAFT_CHARS} characters"));
                String::new()
            }
            _ => {
                errors.add("body", "required: the draft's text");
                String::new()
            }
        };
        errors.into_result(())?;
        let count = self
            .db
            .query_opt(
                "SELECT COUNT(*) AS drafts, SUM(CASE WHEN draft_key = ? THEN 1 ELSE 0 END) AS this_one FROM drafts WHERE organization_id = ? AND user_id = ?",
                &[key.into(), actor.organization_id.clone().into(), actor.user_id.clone().into()],
            )
            .await?;
        let (drafts, this_one) = match count {
            Some(r) => (r.get::<i64>("drafts")?, r.get::<Option<i64>>("this_one")?.unwrap_or(0)),
            None => (0, 0),
        };
        if this_one == 0 && drafts >= MAX_DRAFTS {
            return Err(CrmError::Refused(format!(
                "you have {MAX_DRAFTS} drafts already; send or delete some first"
            )));
        }
        let now = time::format(time::now());
        self.db
            .execute(
                "INSERT INTO drafts (organization_id, user_id, draft_key, body, date_updated) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (organization_id, user_id, draft_key) DO UPDATE SET body = excluded.body, date_updated = excluded.date_updated",
                vec![
                    actor.organization_id.clone().into(),
                    actor.user_id.clone().into(),
                    key.into(),
                    body.clone().into(),
                    now.clone().into(),
                ],
            )
            .await?;
        Ok(json!({"key": key, "body": body, "date_updated": now}))
    }

    pub async fn delete_draft(&self, actor: &Actor, key: &str) -> CrmResult<()> {
        self.db
            .execute(
                "DELETE FROM drafts WHERE organization_id = ? AND user_id = ? AND draft_key = ?",
                vec![
                    actor.organization_id.clone().into(),
                    actor.user_id.clone().into(),
                    key.into(),
                ],
            )
            .await?;
        Ok(())
    }
}

fn render_draft(r: &Row) -> DbResult<Value> {
    Ok(json!({
        "key": r.get::<&str>("draft_key")?,
        "body": r.get::<&str>("body")?,
        "date_updated": r.get::<&str>("date_updated")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::wait_text;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(1), "1 second");
        assert_eq!(wait_text(59), "59 seconds");
        assert_eq!(wait_text(60), "1 minute");
        assert_eq!(wait_text(61), "2 minutes");
        assert_eq!(wait_text(900), "15 minutes");
    }
}
