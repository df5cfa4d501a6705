//! Create, update and delete: the one write path. Each operation reads what it needs,
//! builds a [`Plan`] of row changes and events, and commits it as one transaction. A
//! concurrent change to a row it read makes the commit fail with a conflict, and the
//! operation starts over from fresh reads.

use rapport_core::fields::{check_input, specs, Access, FieldType, Mode};
use rapport_core::{new_id, time, FieldErrors, Kind};
use rapport_store::{DbError, SqlValue, Stmt};
use serde_json::{Map, Value};

use crate::custom;
use crate::doc::{Doc, COLUMNS, CONTACT_TYPE, IN_ORGANIZATION};
use crate::events::NewEvent;
use crate::kinds::contact::ContactChange;
use crate::kinds::{self, Deleting, Writing};
use crate::meta::OrgMeta;
use crate::plan::{Plan, MAX_ATTEMPTS};
use crate::render::{changed_fields, render, with_secrets, SECRET_FIELDS};
use crate::roles::Permission;
use crate::{Actor, Crm, CrmError, CrmResult};

/// An `Idempotency-Key` sent with a create: a retry returns the first result.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    /// Identifies the request (method, path, body) so a reused key with another request is refused.
    pub request_hash: String,
}

/// The longest `Idempotency-Key`, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

impl Idempotency {
    /// The key a client sent with a request: 1 to [`MAX_IDEMPOTENCY_KEY_CHARS`] visible
    /// ASCII characters (spaces and tabs around it do not count); the request is identified
    /// by the SHA-256 of its method, its path without trailing slashes, and its body, so
    /// that `/lead` and `/lead/` are one request and another body under the same key is not.
    pub fn new(key: &str, method: &str, path: &str, body: &[u8]) -> Result<Idempotency, FieldErrors> {
        let visible = |c: char| c == '\t' || (' '..='~').contains(&c);
        let key = Some(key)
            .filter(|k| k.chars().all(visible))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_CHARS)
            .ok_or_else(|| FieldErrors::general("the Idempotency-Key header must be 1 to 255 visible characters"))?;
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(method);
        hasher.update(path.trim_end_matches('/'));
        hasher.update(body);
        Ok(Idempotency {
            key: key.to_string(),
            request_hash: hex::encode(hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod idempotency_tests {
    use super::Idempotency;

    #[test]
    fn a_key_is_one_to_255_visible_characters() {
        let new = |key: &str| Idempotency::new(key, "POST", "/api/v1/lead/", b"{}").map(|i| i.key);
        assert_eq!(new(" retry-1\t").unwrap(), "retry-1");
        assert_eq!(new(&"k".repeat(255)).unwrap().len(), 255);
        for bad in ["", "   ", "k\u{1}", "clé", "\u{fffd}"] {
            assert!(new(bad).is_err(), "{bad:?}");
        }
        assert!(new(&"k".repeat(256)).is_err());
    }

    #[test]
    fn the_request_is_its_method_path_and_body() {
        let hash = |method, path, body: &[u8]| Idempotency::new("k", method, path, body).unwrap().request_hash;
        let first = hash("POST", "/api/v1/lead/", b"{\"name\":\"A\"}");
        assert_eq!(first, hash("POST", "/api/v1/lead", b"{\"name\":\"A\"}"));
        assert_ne!(first, hash("POST", "/api/v1/lead/", b"{\"name\":\"B\"}"));
        assert_ne!(first, hash("POST", "/api/v1/contact/", b"{\"name\":\"A\"}"));
        assert_ne!(first, hash("PUT", "/api/v1/lead/", b"{\"name\":\"A\"}"));
        // SHA-256 of "POST", "/api/v1/lead" and the body, one after the other.
        assert_eq!(first.len(), 64);
    }
}

/// The outcome of a write: the object as it now is (empty after a delete) and the
/// sequence number of the last event it wrote (0 when replayed from an idempotency key).
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Map<String, Value>,
    pub event_seq: i64,
}

impl Crm {
    /// Reads one object of `kind`; another organization's object is not found.
    pub async fn get(&self, actor: &Actor, kind: Kind, id: &str) -> CrmResult<Map<String, Value>> {
        let doc = self.load(actor, kind, id).await?;
        let meta = self.meta(actor).await?;
        let contacts = if kind == Kind::Lead {
            self.contacts_of(actor, &doc.id).await?
        } else {
            vec![]
        };
        Ok(render(&doc, &meta, &contacts))
    }

    pub async fn create(
        &self,
        actor: &Actor,
        kind: Kind,
        input: &Value,
        idempotency: Option<&Idempotency>,
    ) -> CrmResult<Written> {
        if let Some(idem) = idempotency {
            if let Some(previous) = self.idempotent_replay(actor, idem).await? {
                return Ok(previous);
            }
        }
        let input = as_object(input)?;
        for attempt in 1..=MAX_ATTEMPTS {
            let mut plan = Plan::default();
            let object = self.plan_create(actor, kind, input, &mut plan).await?;
            if let Some(idem) = idempotency {
                plan.stmts.push(Stmt::new(
                    "INSERT INTO idempotency_keys (organization_id, user_id, key, request_hash, status, body, date_created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        actor.organization_id.clone().into(),
                        actor.user_id.clone().into(),
                        idem.key.clone().into(),
                        idem.request_hash.clone().into(),
                        SqlValue::Int(200),
                        // A retry answers the object without its keys: they are shown once.
                        Value::Object(without_secrets(&object)).to_string().into(),
                        time::format(time::now()).into(),
                    ],
                ));
            }
            match self.commit(actor, kind, plan).await {
                Ok(event_seq) => return Ok(Written { object, event_seq }),
                Err(CrmError::Db(DbError::Conflict)) if attempt < MAX_ATTEMPTS => continue,
                Err(CrmError::Db(DbError::Unique(table))) if table == IDEMPOTENCY_TABLE => {
                    // The same key committed concurrently: answer with its result.
                    if let Some(idem) = idempotency {
                        if let Some(previous) = self.idempotent_replay(actor, idem).await? {
                            return Ok(previous);
                        }
                    }
                    return Err(CrmError::Db(DbError::Unique(table)));
                }
                Err(e) => return Err(e),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }

    pub async fn update(&self, actor: &Actor, kind: Kind, id: &str, input: &Value) -> CrmResult<Written> {
        let input = as_object(input)?;
        for attempt in 1..=MAX_ATTEMPTS {
            let mut plan = Plan::default();
            let object = self.plan_update(actor, kind, id, input, &mut plan).await?;
            match self.commit(actor, kind, plan).await {
                Ok(event_seq) => return Ok(Written { object, event_seq }),
                Err(CrmError::Db(DbError::Conflict)) if attempt < MAX_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }

    pub async fn delete(&self, actor: &Actor, kind: Kind, id: &str) -> CrmResult<Written> {
        for attempt in 1..=MAX_ATTEMPTS {
            let mut plan = Plan::default();
            self.plan_delete(actor, kind, id, &mut plan).await?;
            match self.commit(actor, kind, plan).await {
                Ok(event_seq) => {
                    return Ok(Written {
                        object: Map::new(),
                        event_seq,
                    })
                }
                Err(CrmError::Db(DbError::Conflict)) if attempt < MAX_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }

    /// Forgets `Idempotency-Key` answers older than `age`: a client retries within minutes,
    /// and the table would otherwise grow with every keyed request. Returns how many went.
    pub async fn purge_idempotency_keys(&self, age: std::time::Duration) -> CrmResult<u64> {
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::days(1));
        let cutoff = time::format(time::now() - age);
        let out = self
            .db
            .execute(
                "DELETE FROM idempotency_keys WHERE date_created < ?",
                vec![cutoff.into()],
            )
            .await?;
        Ok(out.affected)
    }

    async fn idempotent_replay(&self, actor: &Actor, idem: &Idempotency) -> CrmResult<Option<Written>> {
        let row = self
            .db
            .query_opt(
                "SELECT request_hash, body FROM idempotency_keys WHERE organization_id = ? AND user_id = ? AND key = ?",
                &[
                    actor.organization_id.clone().into(),
                    actor.user_id.clone().into(),
                    idem.key.clone().into(),
                ],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        if row.get::<&str>("request_hash")? != idem.request_hash {
            return Err(CrmError::IdempotencyMismatch);
        }
        let object = match serde_json::from_str(row.get::<&str>("body")?) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Ok(Some(Written { object, event_seq: 0 }))
    }

    /// Commits the plan; events go last (`Dialect::append_events`).
    async fn commit(&self, actor: &Actor, kind: Kind, plan: Plan) -> CrmResult<i64> {
        self.commit_as(&actor.organization_id, Some(&actor.user_id), kind, plan)
            .await
    }

    /// Commits a plan made in `organization_id` by `user_id` (`None`: by the server itself).
    pub(crate) async fn commit_as(
        &self,
        organization_id: &str,
        user_id: Option<&str>,
        kind: Kind,
        plan: Plan,
    ) -> CrmResult<i64> {
        match self.commit_plan(organization_id, user_id, kind, plan).await {
            Err(DbError::Unique(table)) if table != IDEMPOTENCY_TABLE => {
                let field = if matches!(kind, Kind::LeadStatus | Kind::OpportunityStatus) {
                    "label"
                } else {
                    "name"
                };
                Err(FieldErrors::field(field, format!("a {} with this {field} already exists", kind.label())).into())
            }
            result => result.map_err(CrmError::from),
        }
    }

    /// Commits a plan; the store's error as it is (a caller that expects a duplicate
    /// handles `Unique` itself). Returns the sequence of the plan's last event.
    pub(crate) async fn commit_plan(
        &self,
        organization_id: &str,
        user_id: Option<&str>,
        kind: Kind,
        plan: Plan,
    ) -> Result<i64, DbError> {
        let Plan { mut stmts, events } = plan;
        if crate::meta::is_meta_kind(kind) {
            stmts.push(Stmt::new(
                "UPDATE organizations SET meta_version = meta_version + 1 WHERE id = ?",
                vec![organization_id.into()],
            ));
        }
        let now = time::format(time::now());
        let inserts = events.iter().map(|e| e.insert_stmt(organization_id, user_id, &now));
        let event_stmts = self.db.dialect().append_events(&mut stmts, inserts);
        let outputs = self.db.batch(stmts).await?;
        self.log.wake_tails();
        let mut last_seq: Option<i64> = None;
        for row in outputs[event_stmts].iter().filter_map(|o| o.rows.first()) {
            let seq = row.get::<i64>("seq")?;
            last_seq = Some(last_seq.map_or(seq, |last| last.max(seq)));
        }
        Ok(last_seq.unwrap_or(0))
    }

    /// Loads an object of `kind` in the actor's organization.
    pub(crate) async fn load(&self, actor: &Actor, kind: Kind, id: &str) -> CrmResult<Doc> {
        self.load_any(actor, id)
            .await?
            .filter(|d| d.kind == kind)
            // Another user's private Smart View is as absent as another organization's.
            .filter(|d| d.kind != Kind::SavedSearch || crate::search::view_visible(d, actor))
            .ok_or(CrmError::NotFound)
    }

    async fn load_any(&self, actor: &Actor, id: &str) -> CrmResult<Option<Doc>> {
        self.load_in(&actor.organization_id, id).await
    }

    /// Loads any object of an organization, whoever asks (the server's own jobs).
    pub(crate) async fn load_in(&self, organization_id: &str, id: &str) -> CrmResult<Option<Doc>> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE id = ? AND {IN_ORGANIZATION}");
        let row = self.db.query_opt(&sql, &[id.into(), organization_id.into()]).await?;
        row.map(|r| Doc::from_row(organization_id, &r)).transpose()
    }

    pub(crate) async fn contacts_of(&self, actor: &Actor, lead_id: &str) -> CrmResult<Vec<Doc>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE lead_id = ? AND {CONTACT_TYPE} AND organization_id = ? ORDER BY date_created, id"
        );
        self.query_docs(
            &actor.organization_id,
            &sql,
            &[lead_id.into(), actor.organization_id.clone().into()],
        )
        .await
    }

    pub(crate) async fn children_of(&self, actor: &Actor, lead_id: &str) -> CrmResult<Vec<Doc>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE lead_id = ? AND organization_id = ? ORDER BY date_created, id"
        );
        self.query_docs(
            &actor.organization_id,
            &sql,
            &[lead_id.into(), actor.organization_id.clone().into()],
        )
        .await
    }

    async fn plan_create(
        &self,
        actor: &Actor,
        kind: Kind,
        input: &Map<String, Value>,
        plan: &mut Plan,
    ) -> CrmResult<Map<String, Value>> {
        refuse_if_server_recorded(kind, "created")?;
        refuse_unless_permitted(kind, actor)?;
        if kind == Kind::Conversation {
            return Err(CrmError::Refused(
                "a conversation starts with a visitor's message in a website's widget".into(),
            ));
        }
        let checked = check_input(kind, input, Mode::Create, &self.config.phone_region)?;
        let meta = self.meta(actor).await?;
        let now = time::format(time::now());
        let mut doc = Doc {
            id: new_id(kind.id_prefix()),
            kind,
            organization_id: actor.organization_id.clone(),
            lead_id: None,
            unique_key: None,
            data: Map::new(),
            version: 1,
            date_created: checked
                .values
                .get("date_created")
                .and_then(Value::as_str)
                .unwrap_or(&now)
                .to_string(),
            date_updated: now.clone(),
            created_by: Some(actor.user_id.clone()),
            updated_by: Some(actor.user_id.clone()),
        };
        let mut errors = FieldErrors::new();
        let mut custom_values = Map::new();
        custom::apply(kind, &meta, checked.custom, &mut custom_values, &mut errors);
        if !custom_values.is_empty() {
            doc.data.insert("custom".into(), Value::Object(custom_values));
        }
        store_values(&mut doc, &checked.values);
        let lead = self
            .resolve(actor, &meta, &mut doc, &checked.values, None, &mut errors)
            .await?;
        if let Err(e) = errors.into_result(()) {
            return Err(e.into());
        }
        plan.stmts.extend(self.status_guard(&doc));
        match kind {
            Kind::Lead => {
                // Contacts given with the lead are created in the same transaction.
                let mut contacts = Vec::new();
                let mut errors = FieldErrors::new();
                let given = input
                    .get("contacts")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (i, contact_input) in given.iter().enumerate() {
                    let contact_input = contact_input.as_object().cloned().unwrap_or_default();
                    match self.new_contact_doc(actor, &meta, &doc, &contact_input, i, &now).await {
                        Ok(contact) => contacts.push(contact),
                        Err(CrmError::Invalid(e)) => errors.merge_prefixed(&format!("contacts[{i}]."), e),
                        Err(e) => return Err(e),
                    }
                }
                if let Err(e) = errors.into_result(()) {
                    return Err(e.into());
                }
                let rendered = render(&doc, &meta, &contacts);
                plan.insert(&doc, NewEvent::created(kind, &doc.id, Some(&doc.id), rendered.clone()));
                for contact in &contacts {
                    plan.insert(
                        contact,
                        NewEvent::created(Kind::Contact, &contact.id, Some(&doc.id), render(contact, &meta, &[])),
                    );
                }
                Ok(rendered)
            }
            Kind::Contact => {
                let rendered = render(&doc, &meta, &[]);
                match lead {
                    Some(lead) => {
                        self.touch_lead(actor, &meta, lead, ContactChange::Added(doc.clone()), &now, plan)
                            .await?
                    }
                    None => {
                        // Close makes a lead for a contact given without one.
                        let lead = self.new_lead_for_contact(actor, &meta, &doc, &now);
                        doc.lead_id = Some(lead.id.clone());
                        let rendered_lead = render(&lead, &meta, std::slice::from_ref(&doc));
                        plan.insert(
                            &lead,
                            NewEvent::created(Kind::Lead, &lead.id, Some(&lead.id), rendered_lead),
                        );
                    }
                }
                let mut rendered = rendered;
                rendered.insert("lead_id".into(), doc.lead_id.clone().into());
                plan.insert(
                    &doc,
                    NewEvent::created(kind, &doc.id, doc.lead_id.as_deref(), rendered.clone()),
                );
                Ok(rendered)
            }
            _ => {
                if let Some(lead) = &lead {
                    // A lead being deleted lists its children first: moving its version
                    // makes that delete conflict and list them again, so no child is left
                    // behind without its lead.
                    plan.stmts.push(Stmt::one(
                        format!("UPDATE objects SET version = version + 1 WHERE id = ? AND {IN_ORGANIZATION} AND version = ?"),
                        vec![
                            lead.id.clone().into(),
                            lead.organization_id.clone().into(),
                            SqlValue::Int(lead.version),
                        ],
                    ));
                }
                let rendered = render(&doc, &meta, &[]);
                plan.insert(
                    &doc,
                    NewEvent::created(kind, &doc.id, doc.lead_id.as_deref(), rendered.clone()),
                );
                // Keys are shown once, to their creator; never in reads or the event log.
                Ok(with_secrets(&doc, rendered))
            }
        }
    }

    async fn new_contact_doc(
        &self,
        actor: &Actor,
        meta: &OrgMeta,
        lead: &Doc,
        input: &Map<String, Value>,
        position: usize,
        now: &str,
    ) -> CrmResult<Doc> {
        let checked = check_input(Kind::Contact, input, Mode::Create, &self.config.phone_region)?;
        let mut doc = Doc {
            id: new_id(Kind::Contact.id_prefix()),
            kind: Kind::Contact,
            organization_id: actor.organization_id.clone(),
            lead_id: Some(lead.id.clone()),
            unique_key: None,
            data: Map::new(),
            version: 1,
            date_created: time::format_after(&lead.date_created, position + 1),
            date_updated: now.to_string(),
            created_by: Some(actor.user_id.clone()),
            updated_by: Some(actor.user_id.clone()),
        };
        let mut errors = FieldErrors::new();
        let mut custom_values = Map::new();
        custom::apply(Kind::Contact, meta, checked.custom, &mut custom_values, &mut errors);
        if !custom_values.is_empty() {
            doc.data.insert("custom".into(), Value::Object(custom_values));
        }
        store_values(&mut doc, &checked.values);
        errors.into_result(doc).map_err(Into::into)
    }

    fn new_lead_for_contact(&self, actor: &Actor, meta: &OrgMeta, contact: &Doc, now: &str) -> Doc {
        let mut data = Map::new();
        data.insert("name".into(), contact.str("name").unwrap_or("").into());
        if let Some(status) = meta.of_kind(Kind::LeadStatus).next() {
            data.insert("status_id".into(), status.id.clone().into());
        }
        let id = new_id(Kind::Lead.id_prefix());
        Doc {
            lead_id: Some(id.clone()),
            id,
            kind: Kind::Lead,
            organization_id: actor.organization_id.clone(),
            unique_key: None,
            data,
            version: 1,
            date_created: now.to_string(),
            date_updated: now.to_string(),
            created_by: Some(actor.user_id.clone()),
            updated_by: Some(actor.user_id.clone()),
        }
    }

    async fn plan_update(
        &self,
        actor: &Actor,
        kind: Kind,
        id: &str,
        input: &Map<String, Value>,
        plan: &mut Plan,
    ) -> CrmResult<Map<String, Value>> {
        let before = self.load(actor, kind, id).await?;
        refuse_unless_owner(&before, actor)?;
        refuse_if_server_recorded(kind, "changed")?;
        refuse_unless_permitted(kind, actor)?;
        let meta = self.meta(actor).await?;
        // A client that read the object and sends it back repeats fields it may not
        // change (`lead_id`…): unchanged, they are no change.
        let shown = render(&before, &meta, &[]);
        let input: Map<String, Value> = input
            .iter()
            .filter(|(name, value)| {
                let create_only = specs(kind)
                    .iter()
                    .any(|s| s.name == name.as_str() && s.access == Access::CreateOnly);
                !(create_only && shown.get(name.as_str()) == Some(value))
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let checked = check_input(kind, &input, Mode::Update, &self.config.phone_region)?;
        let now = time::format(time::now());
        let mut doc = before.clone();
        doc.version += 1;
        doc.date_updated = now.clone();
        doc.updated_by = Some(actor.user_id.clone());
        let mut errors = FieldErrors::new();
        let mut custom_values = doc.custom().cloned().unwrap_or_default();
        custom::apply(kind, &meta, checked.custom, &mut custom_values, &mut errors);
        if custom_values.is_empty() {
            doc.data.remove("custom");
        } else {
            doc.data.insert("custom".into(), Value::Object(custom_values));
        }
        store_values(&mut doc, &checked.values);
        let lead = self
            .resolve(actor, &meta, &mut doc, &checked.values, Some(&before), &mut errors)
            .await?;
        if let Err(e) = errors.into_result(()) {
            return Err(e.into());
        }
        if before.str("status_id") != doc.str("status_id") {
            plan.stmts.extend(self.status_guard(&doc));
        }
        let contacts = if kind == Kind::Lead {
            self.contacts_of(actor, id).await?
        } else {
            vec![]
        };
        let rendered_before = render(&before, &meta, &contacts);
        let rendered = render(&doc, &meta, &contacts);
        let changed = changed_fields(&rendered_before, &rendered);
        if kind == Kind::Lead && before.str("status_id") != doc.str("status_id") {
            plan_status_change(actor, &meta, &before, &doc, &now, plan);
        }
        plan.update(
            &doc,
            NewEvent::updated(
                kind,
                &doc.id,
                doc.lead_id.as_deref(),
                changed,
                &rendered_before,
                rendered.clone(),
            ),
        );
        if let Some(lead) = lead.filter(|_| kind == Kind::Contact) {
            self.touch_lead(actor, &meta, lead, ContactChange::Changed(doc), &now, plan)
                .await?;
        }
        Ok(rendered)
    }

    async fn plan_delete(&self, actor: &Actor, kind: Kind, id: &str, plan: &mut Plan) -> CrmResult<()> {
        let doc = self.load(actor, kind, id).await?;
        refuse_unless_owner(&doc, actor)?;
        refuse_if_server_recorded(kind, "deleted")?;
        refuse_unless_permitted(kind, actor)?;
        let meta = self.meta(actor).await?;
        let now = time::format(time::now());
        if let Deleting::Planned = kinds::plan_delete(self, actor, &meta, &doc, &now, plan).await? {
            return Ok(());
        }
        plan.delete(
            &doc,
            NewEvent::deleted(kind, id, doc.lead_id.as_deref(), render(&doc, &meta, &[])),
        );
        Ok(())
    }

    /// Deletes a status, checking again inside the transaction — after the delete has
    /// locked the row, so a concurrent writer that holds it (see `status_guard`) is seen —
    /// that nothing uses it and, for lead statuses, that another one remains.
    pub(crate) fn plan_status_delete(&self, actor: &Actor, status: &Doc, users: Kind, meta: &OrgMeta, plan: &mut Plan) {
        let org: SqlValue = actor.organization_id.clone().into();
        plan.delete(
            status,
            NewEvent::deleted(status.kind, &status.id, None, render(status, meta, &[])),
        );
        let expr = self.db.dialect().json_field("status_id", rapport_store::JsonType::Text);
        plan.stmts.push(Stmt::one(
            format!("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM objects WHERE organization_id = ? AND object_type = ? AND {expr} = ?)"),
            vec![org.clone(), users.object_type().into(), status.id.clone().into()],
        ));
        if status.kind == Kind::LeadStatus {
            plan.stmts.push(Stmt::one(
                "SELECT 1 WHERE (SELECT COUNT(*) FROM objects WHERE organization_id = ? AND object_type = 'status.lead') > 0",
                vec![org],
            ));
        }
    }

    /// For a write that sets a lead's or opportunity's status: the status must still exist
    /// at commit, and on PostgreSQL its row stays locked until then, so a concurrent
    /// deletion of the status waits and then sees this object use it.
    fn status_guard(&self, doc: &Doc) -> Option<Stmt> {
        let status_kind = match doc.kind {
            Kind::Lead => Kind::LeadStatus,
            Kind::Opportunity => Kind::OpportunityStatus,
            _ => return None,
        };
        let status_id = doc.str("status_id")?;
        let lock = self.db.dialect().share_lock();
        Some(Stmt::one(
            format!("SELECT id FROM objects WHERE id = ? AND {IN_ORGANIZATION} AND object_type = ?{lock}"),
            vec![
                status_id.into(),
                doc.organization_id.clone().into(),
                status_kind.object_type().into(),
            ],
        ))
    }

    pub(crate) async fn refuse_if_used(
        &self,
        actor: &Actor,
        kind: Kind,
        field: &str,
        id: &str,
        what: &str,
    ) -> CrmResult<()> {
        let expr = self.db.dialect().json_field(field, rapport_store::JsonType::Text);
        let sql =
            format!("SELECT COUNT(*) AS n FROM objects WHERE organization_id = ? AND object_type = ? AND {expr} = ?");
        let row = self
            .db
            .query_opt(
                &sql,
                &[
                    actor.organization_id.clone().into(),
                    kind.object_type().into(),
                    id.into(),
                ],
            )
            .await?;
        let count = match row {
            Some(r) => r.get::<i64>("n")?,
            None => 0,
        };
        if count > 0 {
            let plural = if count == 1 { "" } else { "s" };
            return Err(CrmError::Refused(format!(
                "this {what} is used by {count} {}{plural}; move them to another first",
                kind.label()
            )));
        }
        Ok(())
    }

    /// Checks references and fills defaults after the given `values` were stored in `doc`
    /// (`before` is the stored object on update). Returns the object's lead when it has one.
    async fn resolve(
        &self,
        actor: &Actor,
        meta: &OrgMeta,
        doc: &mut Doc,
        values: &Map<String, Value>,
        before: Option<&Doc>,
        errors: &mut FieldErrors,
    ) -> CrmResult<Option<Doc>> {
        let creating = before.is_none();
        let kind = doc.kind;
        // References given in this request.
        for spec in specs(kind) {
            let Some(id) = values.get(spec.name).and_then(Value::as_str) else {
                continue;
            };
            match spec.ty {
                FieldType::UserRef if meta.user(id).is_none() => {
                    errors.add(spec.name, format!("`{id}` is not a user of this organization"));
                }
                FieldType::Ref(target @ (Kind::LeadStatus | Kind::OpportunityStatus | Kind::Pipeline))
                    if meta.find(target, id).is_none() =>
                {
                    errors.add(spec.name, format!("no {} with id `{id}`", target.label()));
                }
                _ => {}
            }
        }
        let mut lead = None;
        if kind.belongs_to_lead() {
            let lead_id = if creating {
                values.get("lead_id").and_then(Value::as_str).map(str::to_string)
            } else {
                doc.lead_id.clone()
            };
            doc.data.remove("lead_id");
            if let Some(lead_id) = lead_id {
                match self.load(actor, Kind::Lead, &lead_id).await {
                    Ok(found) => {
                        doc.lead_id = Some(found.id.clone());
                        lead = Some(found);
                    }
                    Err(CrmError::NotFound) => errors.add("lead_id", format!("no lead with id `{lead_id}`")),
                    Err(e) => return Err(e),
                }
            }
            if let Some(contact_id) = values.get("contact_id").and_then(Value::as_str) {
                let same_lead = match self.load(actor, Kind::Contact, contact_id).await {
                    Ok(contact) => contact.lead_id.is_some() && contact.lead_id == doc.lead_id,
                    Err(CrmError::NotFound) => false,
                    Err(e) => return Err(e),
                };
                if !same_lead {
                    errors.add("contact_id", format!("no contact with id `{contact_id}` on this lead"));
                }
            }
        }
        let writing = Writing {
            crm: self,
            actor,
            meta,
            values,
            creating,
        };
        kinds::fill(&writing, doc, errors).await;
        Ok(lead)
    }

    /// A contact change moves its lead's `date_updated` and is an update of the lead.
    pub(crate) async fn touch_lead(
        &self,
        actor: &Actor,
        meta: &OrgMeta,
        lead: Doc,
        change: ContactChange,
        now: &str,
        plan: &mut Plan,
    ) -> CrmResult<()> {
        let before_contacts = self.contacts_of(actor, &lead.id).await?;
        let mut after_contacts = before_contacts.clone();
        match change {
            ContactChange::Added(contact) => after_contacts.push(contact),
            ContactChange::Changed(contact) => {
                if let Some(slot) = after_contacts.iter_mut().find(|c| c.id == contact.id) {
                    *slot = contact;
                }
            }
            ContactChange::Removed(id) => after_contacts.retain(|c| c.id != id),
        }
        let mut after = lead.clone();
        after.version += 1;
        after.date_updated = now.to_string();
        after.updated_by = Some(actor.user_id.clone());
        let rendered_before = render(&lead, meta, &before_contacts);
        let rendered_after = render(&after, meta, &after_contacts);
        let changed = changed_fields(&rendered_before, &rendered_after);
        plan.update(
            &after,
            NewEvent::updated(
                Kind::Lead,
                &after.id,
                Some(&after.id),
                changed,
                &rendered_before,
                rendered_after,
            ),
        );
        Ok(())
    }
}

/// Close records a lead's status change as an activity on its timeline.
fn plan_status_change(actor: &Actor, meta: &OrgMeta, before: &Doc, after: &Doc, now: &str, plan: &mut Plan) {
    let label = |doc: &Doc| {
        doc.str("status_id")
            .and_then(|id| meta.find(Kind::LeadStatus, id))
            .and_then(|s| s.str("label"))
            .map(str::to_string)
    };
    let mut data = Map::new();
    data.insert("old_status_id".into(), before.str("status_id").into());
    data.insert("old_status_label".into(), label(before).into());
    data.insert("new_status_id".into(), after.str("status_id").into());
    data.insert("new_status_label".into(), label(after).into());
    data.insert("user_id".into(), actor.user_id.clone().into());
    data.insert("activity_at".into(), now.into());
    let activity = Doc {
        id: new_id(Kind::LeadStatusChange.id_prefix()),
        kind: Kind::LeadStatusChange,
        organization_id: actor.organization_id.clone(),
        lead_id: Some(after.id.clone()),
        unique_key: None,
        data,
        version: 1,
        date_created: now.to_string(),
        date_updated: now.to_string(),
        created_by: Some(actor.user_id.clone()),
        updated_by: Some(actor.user_id.clone()),
    };
    let rendered = render(&activity, meta, &[]);
    plan.insert(
        &activity,
        NewEvent::created(Kind::LeadStatusChange, &activity.id, Some(&after.id), rendered),
    );
}

/// Where `Idempotency-Key` answers are kept; a unique refusal there is a concurrent retry.
const IDEMPOTENCY_TABLE: &str = "idempotency_keys";

fn without_secrets(object: &Map<String, Value>) -> Map<String, Value> {
    let mut copy = object.clone();
    for field in SECRET_FIELDS {
        copy.remove(*field);
    }
    copy
}

/// Kinds without a route (status changes) are written by the server only.
fn refuse_if_server_recorded(kind: Kind, verb: &str) -> CrmResult<()> {
    match kind.path() {
        Some(_) => Ok(()),
        None => Err(CrmError::Refused(format!(
            "a {} is recorded by the server and cannot be {verb}",
            kind.label()
        ))),
    }
}

/// Smart Views are changed by their owner or an admin.
fn refuse_unless_owner(doc: &Doc, actor: &Actor) -> CrmResult<()> {
    if doc.kind == Kind::SavedSearch && doc.created_by.as_deref() != Some(actor.user_id.as_str()) {
        return actor.require(Permission::ManageOthersSmartViews);
    }
    Ok(())
}

/// The organization's configuration (statuses, pipelines, custom fields, websites,
/// webhooks) is written by admins only (`roles.rs`).
fn refuse_unless_permitted(kind: Kind, actor: &Actor) -> CrmResult<()> {
    match Permission::to_write(kind) {
        Some(permission) => actor.require(permission),
        None => Ok(()),
    }
}

/// Stores checked values in the document: `null` clears a field; write-only fields and
/// `date_created` (a column) are not stored in the document.
fn store_values(doc: &mut Doc, values: &Map<String, Value>) {
    let specs = specs(doc.kind);
    for (name, value) in values {
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            continue;
        };
        if matches!(spec.access, Access::WriteOnly { .. }) || name == "date_created" || name == "lead_id" {
            continue;
        }
        if value.is_null() {
            doc.data.remove(name);
        } else {
            doc.data.insert(name.clone(), value.clone());
        }
    }
}

fn as_object(input: &Value) -> CrmResult<&Map<String, Value>> {
    input
        .as_object()
        .ok_or_else(|| CrmError::Invalid(FieldErrors::general("the request body must be a JSON object")))
}
