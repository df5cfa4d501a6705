//! Organizations, users, memberships and API keys; the defaults a new organization starts with.

use rapport_core::{new_id, time, validate, FieldErrors, Kind};
use rapport_store::{DbError, DbResult, Stmt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::doc::Doc;
use crate::events::NewEvent;
use crate::meta::{full_name, OrgMeta};
use crate::render::{changed_fields, render};
use crate::{Actor, Crm, CrmError, CrmResult};

/// An organization to create with its first admin.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: String,
    pub admin_email: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
    /// Set for a new user; ignored when the email already has an account.
    pub admin_password: Option<String>,
}

/// A freshly made API key; the key itself is shown once and only its hash is stored.
#[derive(Debug, Clone)]
pub struct ApiKeyCreated {
    pub id: String,
    pub key: String,
    pub organization_id: String,
    pub user_id: String,
    pub date_created: String,
}

const MAX_ORGANIZATION_NAME_CHARS: usize = 200;
const DEFAULT_LEAD_STATUSES: [&str; 4] = ["Potential", "Bad Fit", "Qualified", "Customer"];
const DEFAULT_OPPORTUNITY_STATUSES: [(&str, &str); 3] = [("Active", "active"), ("Won", "won"), ("Lost", "lost")];

impl Crm {
    /// Whether no organization exists yet (a fresh install).
    pub async fn is_empty(&self) -> CrmResult<bool> {
        Ok(self
            .db
            .query_opt("SELECT id FROM organizations LIMIT 1", &[])
            .await?
            .is_none())
    }

    /// Creates an organization with Close's default statuses and a "Sales" pipeline, and
    /// makes the admin (a new or existing user) its administrator.
    pub async fn create_organization(&self, new: &NewOrganization) -> CrmResult<Actor> {
        let mut errors = FieldErrors::new();
        if new.name.trim().is_empty() {
            errors.add("name", "an organization needs a name");
        } else if new.name.trim().chars().count() > MAX_ORGANIZATION_NAME_CHARS {
            errors.add("name", format!("at most {MAX_ORGANIZATION_NAME_CHARS} characters"));
        }
        let email = validate::email(&new.admin_email)
            .map_err(|m| errors.add("email", m))
            .unwrap_or_default()
            .to_lowercase();
        errors.into_result(())?;
        let now = time::format(time::now());
        let org_id = new_id("orga");
        let existing = self
            .db
            .query_opt("SELECT id FROM users WHERE email = ?", &[email.clone().into()])
            .await?;
        let mut stmts = vec![Stmt::new(
            "INSERT INTO organizations (id, name, meta_version, date_created, date_updated) VALUES (?, ?, 1, ?, ?)",
            vec![
                org_id.clone().into(),
                new.name.trim().into(),
                now.clone().into(),
                now.clone().into(),
            ],
        )];
        let user_id = match existing {
            Some(row) => row.get::<String>("id")?,
            None => {
                let user_id = new_id("user");
                let hash = new
                    .admin_password
                    .as_deref()
                    .map(crate::passwords::hash_now)
                    .transpose()?;
                stmts.push(Stmt::new(
                    "INSERT INTO users (id, email, first_name, last_name, password_hash, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        user_id.clone().into(),
                        email.clone().into(),
                        new.admin_first_name.clone().into(),
                        new.admin_last_name.clone().into(),
                        hash.into(),
                        now.clone().into(),
                        now.clone().into(),
                    ],
                ));
                user_id
            }
        };
        stmts.push(Stmt::new(
            "INSERT INTO memberships (organization_id, user_id, role, date_created) VALUES (?, ?, 'admin', ?)",
            vec![org_id.clone().into(), user_id.clone().into(), now.clone().into()],
        ));
        let actor = Actor {
            organization_id: org_id.clone(),
            user_id: user_id.clone(),
            role: "admin".into(),
            meta_version: 0,
        };
        let mut events = vec![NewEvent::new(
            "organization",
            &org_id,
            None,
            "created",
            vec![],
            Map::new(),
            as_map(json!({"id": org_id, "name": new.name.trim()})),
        )];
        let position = std::cell::Cell::new(0);
        let doc = |kind: Kind, data: Value, unique_key: String| Doc {
            id: new_id(kind.id_prefix()),
            kind,
            organization_id: org_id.clone(),
            lead_id: None,
            unique_key: Some(unique_key),
            data: as_map(data),
            version: 1,
            date_created: {
                position.set(position.get() + 1);
                time::format_after(&now, position.get())
            },
            date_updated: now.clone(),
            created_by: Some(user_id.clone()),
            updated_by: Some(user_id.clone()),
        };
        let pipeline = doc(Kind::Pipeline, json!({"name": "Sales"}), "sales".into());
        let mut docs: Vec<Doc> = DEFAULT_LEAD_STATUSES
            .iter()
            .map(|l| doc(Kind::LeadStatus, json!({"label": l}), l.to_lowercase()))
            .collect();
        docs.extend(DEFAULT_OPPORTUNITY_STATUSES.iter().map(|(label, ty)| {
            doc(
                Kind::OpportunityStatus,
                json!({"label": label, "status_type": ty, "pipeline_id": pipeline.id}),
                format!("{}/{}", pipeline.id, label.to_lowercase()),
            )
        }));
        docs.insert(0, pipeline);
        let meta = OrgMeta {
            docs: docs.clone(),
            users: vec![],
        };
        for d in &docs {
            stmts.push(d.insert_stmt());
            events.push(NewEvent::created(d.kind, &d.id, None, render(d, &meta, &[])));
        }
        let inserts = events.iter().map(|e| e.insert_stmt(&org_id, Some(&user_id), &now));
        self.db.dialect().append_events(&mut stmts, inserts);
        self.db.batch(stmts).await?;
        Ok(actor)
    }

    /// Adds a user (new, or existing in another organization) to an organization as
    /// `admin` or `member`. A new account gets the names and `password_hash` given; an
    /// existing account is never touched (its password and profile are its owner's).
    pub async fn add_member(
        &self,
        organization_id: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
        role: &str,
        password_hash: Option<String>,
    ) -> CrmResult<Actor> {
        let mut errors = FieldErrors::new();
        let email = validate::email(email)
            .map_err(|m| errors.add("email", m))
            .unwrap_or_default()
            .to_lowercase();
        if crate::Role::parse(role).is_none() {
            errors.add("role", "must be admin or member");
        }
        errors.into_result(())?;
        if self
            .db
            .query_opt("SELECT id FROM organizations WHERE id = ?", &[organization_id.into()])
            .await?
            .is_none()
        {
            return Err(CrmError::Refused(format!("no organization `{organization_id}`")));
        }
        let now = time::format(time::now());
        let existing = self
            .db
            .query_opt("SELECT id FROM users WHERE email = ?", &[email.clone().into()])
            .await?;
        let mut stmts = Vec::new();
        let user_id = match existing {
            Some(row) => row.get::<String>("id")?,
            None => {
                let user_id = new_id("user");
                stmts.push(Stmt::new(
                    "INSERT INTO users (id, email, first_name, last_name, password_hash, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        user_id.clone().into(),
                        email.clone().into(),
                        first_name.trim().into(),
                        last_name.trim().into(),
                        password_hash.into(),
                        now.clone().into(),
                        now.clone().into(),
                    ],
                ));
                user_id
            }
        };
        stmts.push(Stmt::new(
            "INSERT INTO memberships (organization_id, user_id, role, date_created) VALUES (?, ?, ?, ?)",
            vec![
                organization_id.into(),
                user_id.clone().into(),
                role.into(),
                now.clone().into(),
            ],
        ));
        // Users are part of the organization's configuration (names, `me`, assignees).
        stmts.push(Stmt::new(
            "UPDATE organizations SET meta_version = meta_version + 1 WHERE id = ?",
            vec![organization_id.into()],
        ));
        let data =
            as_map(json!({"user_id": user_id, "email": email, "role": role, "organization_id": organization_id}));
        let event = NewEvent::new("membership", &user_id, None, "created", vec![], Map::new(), data);
        self.db
            .dialect()
            .append_events(&mut stmts, [event.insert_stmt(organization_id, None, &now)]);
        match self.db.batch(stmts).await {
            Ok(_) => Ok(Actor {
                organization_id: organization_id.into(),
                user_id,
                role: role.into(),
                meta_version: 0,
            }),
            Err(DbError::Unique(_)) => Err(CrmError::Refused(format!(
                "`{email}` is already a member of `{organization_id}`"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes an API key for the user with `email` in `organization_id` (or the user's only
    /// organization).
    pub async fn create_api_key(
        &self,
        email: &str,
        organization_id: Option<&str>,
        name: &str,
    ) -> CrmResult<ApiKeyCreated> {
        let rows = self
            .db
            .query(
                "SELECT u.id, m.organization_id FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.email = ? ORDER BY m.date_created",
                &[email.trim().to_lowercase().into()],
            )
            .await?;
        if rows.is_empty() {
            return Err(CrmError::Refused(format!("no user with email `{email}`")));
        }
        let orgs = rows
            .iter()
            .map(|r| r.get::<&str>("organization_id"))
            .collect::<DbResult<Vec<&str>>>()?;
        let row = match organization_id {
            Some(org) => orgs
                .iter()
                .position(|o| *o == org)
                .map(|i| &rows[i])
                .ok_or_else(|| CrmError::Refused(format!("`{email}` is not a member of `{org}`")))?,
            None if rows.len() == 1 => &rows[0],
            None => {
                return Err(CrmError::Refused(format!(
                    "`{email}` belongs to several organizations ({}); choose one",
                    orgs.join(", ")
                )));
            }
        };
        self.insert_api_key(row.get("organization_id")?, row.get("id")?, name)
            .await
    }

    /// Stores a new API key of a member (its hash only) and returns the key.
    pub(crate) async fn insert_api_key(
        &self,
        organization_id: &str,
        user_id: &str,
        name: &str,
    ) -> CrmResult<ApiKeyCreated> {
        let created = ApiKeyCreated {
            id: new_id("apikey"),
            key: format!("api_{}{}", &new_id("k")[2..], &new_id("k")[2..]),
            organization_id: organization_id.into(),
            user_id: user_id.into(),
            date_created: time::format(time::now()),
        };
        self.db
            .execute(
                "INSERT INTO api_keys (id, key_hash, organization_id, user_id, name, date_created) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    created.id.clone().into(),
                    key_hash(&created.key).into(),
                    created.organization_id.clone().into(),
                    created.user_id.clone().into(),
                    name.into(),
                    created.date_created.clone().into(),
                ],
            )
            .await?;
        Ok(created)
    }

    /// The actor behind an API key, if the key is valid and its user still a member.
    pub async fn authenticate_api_key(&self, key: &str) -> CrmResult<Option<Actor>> {
        let row = self
            .db
            .query_opt(
                "SELECT k.organization_id, k.user_id, m.role, o.meta_version FROM api_keys k \
                 JOIN memberships m ON m.organization_id = k.organization_id AND m.user_id = k.user_id \
                 JOIN organizations o ON o.id = k.organization_id WHERE k.key_hash = ?",
                &[key_hash(key).into()],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Actor {
            organization_id: r.get("organization_id")?,
            user_id: r.get("user_id")?,
            role: r.get("role")?,
            meta_version: r.get("meta_version")?,
        }))
    }

    /// `GET /me/`: the caller with the organizations they belong to.
    pub async fn me(&self, actor: &Actor) -> CrmResult<Value> {
        let mut user = self.user(actor, &actor.user_id).await?;
        let orgs = self
            .db
            .query(
                "SELECT o.id, o.name, m.role FROM organizations o JOIN memberships m ON m.organization_id = o.id WHERE m.user_id = ? ORDER BY m.date_created",
                &[actor.user_id.clone().into()],
            )
            .await?;
        let orgs = orgs
            .iter()
            .map(|r| -> DbResult<Value> {
                Ok(json!({
                    "id": r.get::<&str>("id")?,
                    "name": r.get::<&str>("name")?,
                    "role": r.get::<&str>("role")?,
                }))
            })
            .collect::<DbResult<Vec<Value>>>()?;
        user["organizations"] = Value::Array(orgs);
        user["organization_id"] = actor.organization_id.clone().into();
        Ok(user)
    }

    /// `GET /user/`: the organization's users.
    pub async fn list_users(&self, actor: &Actor) -> CrmResult<Vec<Value>> {
        let rows = self
            .db
            .query(
                &format!("{USER_SELECT} WHERE m.organization_id = ? ORDER BY u.date_created, u.id"),
                &[actor.organization_id.clone().into()],
            )
            .await?;
        Ok(rows.iter().map(render_user).collect::<DbResult<_>>()?)
    }

    /// `GET /user/{id}/`: a user of the caller's organization.
    pub async fn user(&self, actor: &Actor, id: &str) -> CrmResult<Value> {
        let row = self
            .db
            .query_opt(
                &format!("{USER_SELECT} WHERE m.organization_id = ? AND u.id = ?"),
                &[actor.organization_id.clone().into(), id.into()],
            )
            .await?;
        row.as_ref().map(render_user).transpose()?.ok_or(CrmError::NotFound)
    }

    pub async fn organization(&self, actor: &Actor, id: &str) -> CrmResult<Value> {
        if id != actor.organization_id {
            return Err(CrmError::NotFound);
        }
        let row = self
            .db
            .query_opt(
                "SELECT id, name, date_created, date_updated FROM organizations WHERE id = ?",
                &[id.into()],
            )
            .await?
            .ok_or(CrmError::NotFound)?;
        let meta = self.meta(actor).await?;
        let statuses = |kind: Kind| -> Vec<Value> {
            meta.of_kind(kind)
                .map(|d| Value::Object(render(d, &meta, &[])))
                .collect()
        };
        let memberships: Vec<Value> = self.list_users(actor).await?;
        Ok(json!({
            "id": row.get::<&str>("id")?,
            "name": row.get::<&str>("name")?,
            "date_created": row.get::<&str>("date_created")?,
            "date_updated": row.get::<&str>("date_updated")?,
            "lead_statuses": statuses(Kind::LeadStatus),
            "opportunity_statuses": statuses(Kind::OpportunityStatus),
            "memberships": memberships,
        }))
    }

    /// `PUT /organization/{id}/`: admins may rename it.
    pub async fn update_organization(&self, actor: &Actor, id: &str, input: &Value) -> CrmResult<Value> {
        let before = self.organization(actor, id).await?;
        if actor.role != "admin" {
            return Err(CrmError::Forbidden("only an admin can change the organization".into()));
        }
        let mut errors = FieldErrors::new();
        let mut name = None;
        match input.as_object() {
            Some(obj) => {
                for (k, v) in obj {
                    match (k.as_str(), v.as_str()) {
                        ("name", Some(n)) if n.trim().chars().count() > MAX_ORGANIZATION_NAME_CHARS => {
                            errors.add("name", format!("at most {MAX_ORGANIZATION_NAME_CHARS} characters"))
                        }
                        ("name", Some(n)) if !n.trim().is_empty() => name = Some(n.trim().to_string()),
                        ("name", _) => errors.add("name", "expected a non-empty string"),
                        _ => errors.add(k, "unknown or read-only field for an organization"),
                    }
                }
            }
            None => errors.errors.push("the request body must be a JSON object".into()),
        }
        errors.into_result(())?;
        let Some(name) = name else { return Ok(before) };
        let now = time::format(time::now());
        let mut after = before.clone();
        after["name"] = name.clone().into();
        after["date_updated"] = now.clone().into();
        let (b, a) = (as_map(before.clone()), as_map(after.clone()));
        let event = NewEvent::updated_object("organization", id, changed_fields(&b, &a), &b, a);
        let mut stmts = vec![Stmt::new(
            "UPDATE organizations SET name = ?, date_updated = ? WHERE id = ?",
            vec![name.into(), now.clone().into(), id.into()],
        )];
        self.db
            .dialect()
            .append_events(&mut stmts, [event.insert_stmt(id, Some(&actor.user_id), &now)]);
        self.db.batch(stmts).await?;
        Ok(after)
    }
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.first_name, u.last_name, u.date_created, u.date_updated, m.role FROM users u JOIN memberships m ON m.user_id = u.id";

fn render_user(r: &rapport_store::Row) -> DbResult<Value> {
    let (first_name, last_name) = (r.get::<&str>("first_name")?, r.get::<&str>("last_name")?);
    Ok(json!({
        "id": r.get::<&str>("id")?,
        "email": r.get::<&str>("email")?,
        "first_name": first_name,
        "last_name": last_name,
        "display_name": full_name(first_name, last_name),
        "date_created": r.get::<&str>("date_created")?,
        "date_updated": r.get::<&str>("date_updated")?,
        "role": r.get::<&str>("role")?,
    }))
}

pub(crate) fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
