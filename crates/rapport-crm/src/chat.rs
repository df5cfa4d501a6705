//! Live chat: websites (chat inboxes with a public widget key), their visitors,
//! conversations and messages.
//!
//! Visitors are not users: a widget key and a visitor token (kept in the browser, stored
//! here as a SHA-256 hash) let a visitor act on their own conversation only. Conversations
//! and messages are objects with events like every other, so search, webhooks, real-time
//! push and jobs see them; a message's `unique_key` is `{conversation}/{author}/{client id}`, which
//! both de-duplicates a re-sent message and lists a conversation's messages through the
//! unique index. Once a visitor gives an email, the conversation and its messages hang from
//! the visitor's lead (`lead_id`), and the lead's search document counts the conversation
//! as a `chat` (`last_chat`, `chat( … )`).

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use rapport_core::{new_id, time, FieldErrors, Kind};
use rapport_store::{DbError, DbResult, SqlValue, Stmt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::doc::{Doc, COLUMNS};
use crate::events::NewEvent;
use crate::kinds::new_signature_key;
pub use crate::kinds::website::DEFAULT_NOTIFY_DELAY_SECONDS;
use crate::kinds::website::{normalize_origin, strings};
use crate::limits::{self, LimitedResult};
use crate::plan::{Plan, MAX_ATTEMPTS};
use crate::render::{changed_fields, render};
use crate::{Actor, Crm, CrmError, CrmResult};

/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 5_000;

/// How much of the last message a conversation shows (`last_message_preview`).
const PREVIEW_CHARS: usize = 140;

/// Messages listed per conversation at most (the newest).
const MAX_MESSAGES: usize = 1_000;

/// Chat objects store their server-written fields (the others compute them on render).
pub fn stores_read_only_fields(kind: Kind) -> bool {
    matches!(kind, Kind::Website | Kind::Conversation | Kind::Message)
}

/// A website's visitor, as the widget knows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Visitor {
    pub id: String,
    pub organization_id: String,
    pub website_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub contact_id: Option<String>,
    pub lead_id: Option<String>,
    pub conversation_id: Option<String>,
}

const VISITOR_COLUMNS: &str =
    "id, organization_id, website_id, name, email, email_verified, contact_id, lead_id, conversation_id";

impl Visitor {
    fn from_row(row: &rapport_store::Row) -> DbResult<Visitor> {
        Ok(Visitor {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            website_id: row.get("website_id")?,
            name: row.get("name")?,
            email: row.get("email")?,
            email_verified: row.get("email_verified")?,
            contact_id: row.get("contact_id")?,
            lead_id: row.get("lead_id")?,
            conversation_id: row.get("conversation_id")?,
        })
    }

    /// How the widget shows the visitor.
    pub fn public(&self) -> Value {
        json!({"id": self.id, "name": self.name, "email": self.email})
    }
}

/// A website as the chat endpoints need it.
#[derive(Debug, Clone)]
pub struct Website {
    pub id: String,
    pub organization_id: String,
    pub data: Map<String, Value>,
}

impl Website {
    pub fn name(&self) -> &str {
        self.data.get("name").and_then(Value::as_str).unwrap_or("")
    }

    pub fn greeting(&self) -> Option<&str> {
        self.data.get("greeting").and_then(Value::as_str)
    }

    pub fn strings(&self, field: &str) -> Vec<String> {
        strings(&self.data, field)
    }

    /// Whether a page of `origin` may use the widget (any, when none are listed).
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        let allowed = self.strings("allowed_origins");
        if allowed.is_empty() {
            return true;
        }
        let Some(origin) = origin.and_then(normalize_origin) else {
            return false;
        };
        allowed.iter().filter_map(|a| normalize_origin(a)).any(|a| a == origin)
    }

    pub fn notify_delay_seconds(&self) -> i64 {
        self.data
            .get("notify_delay_seconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_NOTIFY_DELAY_SECONDS)
    }

    pub fn slack_webhook_url(&self) -> Option<&str> {
        self.data.get("slack_webhook_url").and_then(Value::as_str)
    }

    /// `hash` = hex HMAC-SHA256 of the email with the website's identity secret.
    fn verifies(&self, email: &str, hash: &str) -> bool {
        let Some(secret) = self.data.get("identity_secret").and_then(Value::as_str) else {
            return false;
        };
        let Ok(expected) = hex::decode(hash.trim()) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(email.as_bytes());
        mac.verify_slice(&expected).is_ok()
    }
}

/// A message posted: the message as operators see it, and whether it is new (`false`: its
/// client id was sent before, and this is the first message).
#[derive(Debug)]
pub struct Posted {
    pub message: Map<String, Value>,
    pub created: bool,
    pub event_seq: Option<i64>,
}

/// A visitor with an open widget counts as online until this long after its last sign
/// (a socket closes with a write that says so; this bounds a node that died). Renewed
/// every [`VISITOR_HEARTBEAT`]: 10,000 open widgets cost under 100 writes a second.
pub const VISITOR_ONLINE_FOR: std::time::Duration = std::time::Duration::from_secs(300);
pub const VISITOR_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(120);

/// A message's unique key for its author's client id: `{conversation}/{author}/{client
/// id}`, so that a resend finds only its own author's message (a visitor guessing a
/// private note's client id gets a new message, not the note).
fn client_key(conversation_id: &str, author: &Author<'_>, client_id: &str) -> String {
    match author {
        Author::Visitor(_) => format!("{conversation_id}/visitor/{client_id}"),
        Author::Operator(actor) => format!("{conversation_id}/{}/{client_id}", actor.user_id),
    }
}

/// Who writes a message.
enum Author<'a> {
    Visitor(&'a Visitor),
    Operator(&'a Actor),
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The unique keys of a conversation's messages lie in `[start, end)`.
fn message_key_range(conversation_id: &str) -> (String, String) {
    (format!("{conversation_id}/"), format!("{conversation_id}0"))
}

impl Crm {
    /// The website whose widget key this is.
    pub async fn website_by_key(&self, key: &str) -> CrmResult<Option<Website>> {
        let sql = format!("SELECT organization_id, {COLUMNS} FROM objects WHERE unique_key = ? AND object_type = ?");
        let rows = self
            .db
            .query(&sql, &[key.into(), Kind::Website.object_type().into()])
            .await?;
        let Some(r) = rows.first() else { return Ok(None) };
        let data = serde_json::from_str(r.get::<&str>("data")?).unwrap_or_default();
        Ok(Some(Website {
            id: r.get("id")?,
            organization_id: r.get("organization_id")?,
            data,
        }))
    }

    /// A website of the organization, for the server's jobs.
    pub async fn website(&self, organization_id: &str, id: &str) -> CrmResult<Option<Website>> {
        Ok(self
            .stored_object(organization_id, Kind::Website, id)
            .await?
            .map(|data| Website {
                id: id.into(),
                organization_id: organization_id.into(),
                data,
            }))
    }

    /// The visitor holding `token` on this website.
    pub async fn visitor_by_token(&self, website: &Website, token: &str) -> CrmResult<Option<Visitor>> {
        let sql = format!("SELECT {VISITOR_COLUMNS} FROM chat_visitors WHERE token_hash = ? AND website_id = ?");
        let rows = self
            .db
            .query(&sql, &[token_hash(token).into(), website.id.clone().into()])
            .await?;
        Ok(rows.first().map(Visitor::from_row).transpose()?)
    }

    pub async fn visitor(&self, organization_id: &str, id: &str) -> CrmResult<Option<Visitor>> {
        let sql = format!("SELECT {VISITOR_COLUMNS} FROM chat_visitors WHERE id = ? AND organization_id = ?");
        let rows = self.db.query(&sql, &[id.into(), organization_id.into()]).await?;
        Ok(rows.first().map(Visitor::from_row).transpose()?)
    }

    /// A new visitor of the website, and the token that identifies them from now on.
    pub async fn new_visitor(&self, website: &Website) -> CrmResult<(Visitor, String)> {
        let token = new_id("vt");
        let visitor = Visitor {
            id: new_id("visitor"),
            organization_id: website.organization_id.clone(),
            website_id: website.id.clone(),
            name: None,
            email: None,
            email_verified: false,
            contact_id: None,
            lead_id: None,
            conversation_id: None,
        };
        self.db
            .batch(vec![Stmt::new(
                "INSERT INTO chat_visitors (id, organization_id, website_id, token_hash, email_verified, date_created) \
                 VALUES (?, ?, ?, ?, 0, ?)",
                vec![
                    visitor.id.clone().into(),
                    visitor.organization_id.clone().into(),
                    visitor.website_id.clone().into(),
                    token_hash(&token).into(),
                    time::format(time::now()).into(),
                ],
            )])
            .await?;
        Ok((visitor, token))
    }

    /// A new visitor of the website, from the client at `address`: the address is charged
    /// one of [`limits::VISITOR_SESSIONS`] first, and a refusal creates no visitor. A
    /// returning visitor (a known token) is not a new one and costs nothing.
    pub async fn new_visitor_from(&self, website: &Website, address: IpAddr) -> LimitedResult<(Visitor, String)> {
        self.charge_client(&limits::VISITOR_SESSIONS, address).await?;
        Ok(self.new_visitor(website).await?)
    }

    /// `POST /website/{id}/rotate_secret/`: a new identity secret, shown once in the
    /// answer; hashes made with the old one stop verifying at once.
    pub async fn rotate_identity_secret(&self, actor: &Actor, id: &str) -> CrmResult<Map<String, Value>> {
        actor.require(crate::Permission::ManageWebsites)?;
        let secret = new_signature_key();
        let mut website = self
            .change_stored(
                &actor.organization_id,
                Some(&actor.user_id),
                Kind::Website,
                id,
                |data| {
                    data.insert("identity_secret".into(), secret.clone().into());
                },
            )
            .await?
            .ok_or(CrmError::NotFound)?;
        website.insert("identity_secret".into(), secret.into());
        Ok(website)
    }

    /// Where a visitor's feed may start reading the log: just before their conversation's
    /// first event, or the log's end when they have none yet. A visitor asking for the log
    /// from further back would only make the server read other people's events to skip
    /// them.
    pub async fn visitor_log_start(&self, visitor: &Visitor) -> CrmResult<i64> {
        let row = match &visitor.conversation_id {
            Some(conversation) => {
                self.db
                    .query_opt(
                        "SELECT MIN(seq) - 1 AS seq FROM events WHERE organization_id = ? AND object_id = ?",
                        &[visitor.organization_id.as_str().into(), conversation.as_str().into()],
                    )
                    .await?
            }
            None => {
                self.db
                    .query_opt(
                        "SELECT MAX(seq) AS seq FROM events WHERE organization_id = ?",
                        &[visitor.organization_id.as_str().into()],
                    )
                    .await?
            }
        };
        let seq = match row {
            Some(r) => r.get::<Option<i64>>("seq")?,
            None => None,
        };
        Ok(seq.unwrap_or(0))
    }

    /// Records until when the visitor has a widget open (`None`: closed).
    pub async fn set_visitor_online(
        &self,
        visitor: &Visitor,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> CrmResult<()> {
        self.db
            .batch(vec![Stmt::new(
                "UPDATE chat_visitors SET online_until = ? WHERE id = ?",
                vec![until.map(time::format).into(), visitor.id.clone().into()],
            )])
            .await?;
        Ok(())
    }

    /// Whether the visitor has a widget open now.
    pub async fn visitor_online(&self, organization_id: &str, visitor_id: &str) -> CrmResult<bool> {
        let rows = self
            .db
            .query(
                "SELECT online_until FROM chat_visitors WHERE id = ? AND organization_id = ?",
                &[visitor_id.into(), organization_id.into()],
            )
            .await?;
        let until = match rows.first() {
            Some(r) => r.get::<Option<&str>>("online_until")?.and_then(time::parse_datetime),
            None => None,
        };
        Ok(until.is_some_and(|u| u > time::now()))
    }

    /// A conversation as operators see it, in the organization.
    pub async fn conversation(&self, organization_id: &str, id: &str) -> CrmResult<Option<Map<String, Value>>> {
        self.rendered(organization_id, Kind::Conversation, id).await
    }

    /// A message as operators see it.
    pub async fn message(&self, organization_id: &str, id: &str) -> CrmResult<Option<Map<String, Value>>> {
        self.rendered(organization_id, Kind::Message, id).await
    }

    async fn rendered(&self, organization_id: &str, kind: Kind, id: &str) -> CrmResult<Option<Map<String, Value>>> {
        let Some(doc) = self.load_in(organization_id, id).await?.filter(|d| d.kind == kind) else {
            return Ok(None);
        };
        let meta = self.meta_current(organization_id).await?;
        Ok(Some(render(&doc, &meta, &[])))
    }

    /// The actor's display name.
    pub async fn user_name(&self, actor: &Actor) -> Option<String> {
        let meta = self.meta_current(&actor.organization_id).await.ok()?;
        meta.user(&actor.user_id).map(|u| u.name.clone())
    }

    /// A conversation's messages, oldest first; private notes only when `with_private`.
    pub async fn conversation_messages(
        &self,
        organization_id: &str,
        conversation_id: &str,
        with_private: bool,
    ) -> CrmResult<Vec<Map<String, Value>>> {
        let mut docs = self.conversation_message_docs(organization_id, conversation_id).await?;
        docs.retain(|d| with_private || d.data.get("private") != Some(&Value::Bool(true)));
        docs.sort_by(|a, b| (&a.date_created, &a.id).cmp(&(&b.date_created, &b.id)));
        let skip = docs.len().saturating_sub(MAX_MESSAGES);
        let meta = self.meta_current(organization_id).await?;
        Ok(docs[skip..].iter().map(|d| render(d, &meta, &[])).collect())
    }

    /// A conversation's stored messages, in no particular order.
    pub(crate) async fn conversation_message_docs(
        &self,
        organization_id: &str,
        conversation_id: &str,
    ) -> CrmResult<Vec<Doc>> {
        let (start, end) = message_key_range(conversation_id);
        let sql = format!(
            "SELECT {COLUMNS} FROM objects WHERE unique_key >= ? AND unique_key < ? AND object_type = ? AND organization_id = ?"
        );
        self.query_docs(
            organization_id,
            &sql,
            &[
                start.into(),
                end.into(),
                Kind::Message.object_type().into(),
                organization_id.into(),
            ],
        )
        .await
    }

    /// A visitor's message: starts their conversation, or adds to it (and reopens it).
    pub async fn post_visitor_message(
        &self,
        visitor: &Visitor,
        client_id: Option<&str>,
        body: &str,
    ) -> CrmResult<Posted> {
        self.post_message(
            &visitor.organization_id,
            Author::Visitor(visitor),
            visitor.conversation_id.as_deref(),
            client_id,
            body,
            false,
        )
        .await
    }

    /// A visitor's message sent from the client at `address`, charged in this order
    /// before anything is written: one of [`limits::CONVERSATIONS`] to the address when it
    /// starts the visitor's first conversation, then one of [`limits::VISITOR_MESSAGES`]
    /// to the visitor, wherever they write from. Then as [`Crm::post_visitor_message`].
    pub async fn post_visitor_message_from(
        &self,
        visitor: &Visitor,
        address: IpAddr,
        client_id: Option<&str>,
        body: &str,
    ) -> LimitedResult<Posted> {
        if visitor.conversation_id.is_none() {
            self.charge_client(&limits::CONVERSATIONS, address).await?;
        }
        self.charge_visitor(&limits::VISITOR_MESSAGES, visitor).await?;
        Ok(self.post_visitor_message(visitor, client_id, body).await?)
    }

    /// An operator's reply (or, `private`, a note for operators only).
    pub async fn post_operator_message(
        &self,
        actor: &Actor,
        conversation_id: &str,
        input: &Value,
    ) -> CrmResult<Posted> {
        let input = input
            .as_object()
            .ok_or_else(|| CrmError::Invalid(FieldErrors::general("the request body must be a JSON object")))?;
        let checked = rapport_core::fields::check_input(
            Kind::Message,
            input,
            rapport_core::fields::Mode::Create,
            &self.config.phone_region,
        )?;
        let body = checked.values.get("body").and_then(Value::as_str).unwrap_or("");
        let client_id = checked.values.get("client_id").and_then(Value::as_str);
        let private = checked.values.get("private").and_then(Value::as_bool).unwrap_or(false);
        self.post_message(
            &actor.organization_id,
            Author::Operator(actor),
            Some(conversation_id),
            client_id,
            body,
            private,
        )
        .await
    }

    async fn post_message(
        &self,
        organization_id: &str,
        author: Author<'_>,
        conversation_id: Option<&str>,
        client_id: Option<&str>,
        body: &str,
        private: bool,
    ) -> CrmResult<Posted> {
        let body = body.trim();
        let mut errors = FieldErrors::new();
        if body.is_empty() {
            errors.add("body", "a message needs some text");
        } else if body.chars().count() > MAX_BODY_CHARS {
            errors.add("body", format!("at most {MAX_BODY_CHARS} characters"));
        }
        if client_id.is_some_and(|c| c.is_empty() || c.len() > 100) {
            errors.add("client_id", "1 to 100 characters");
        }
        errors.into_result(())?;
        let meta = self.meta_current(organization_id).await?;
        for _ in 0..MAX_ATTEMPTS {
            let now = time::format(time::now());
            let mut plan = Plan::default();
            // A visitor's conversation as stored now (another request may have started
            // it; a deleted lead took it away): theirs, or a new one.
            let fresh_visitor = match &author {
                Author::Visitor(v) => Some(self.visitor(organization_id, &v.id).await?.ok_or(CrmError::NotFound)?),
                Author::Operator(_) => None,
            };
            let visitor_conversation = fresh_visitor.as_ref().and_then(|v| v.conversation_id.clone());
            let before = match (&author, conversation_id) {
                (Author::Visitor(_), _) => match &visitor_conversation {
                    Some(id) => self
                        .load_in(organization_id, id)
                        .await?
                        .filter(|d| d.kind == Kind::Conversation),
                    None => None,
                },
                (Author::Operator(_), Some(id)) => Some(
                    self.load_in(organization_id, id)
                        .await?
                        .filter(|d| d.kind == Kind::Conversation)
                        .ok_or(CrmError::NotFound)?,
                ),
                (Author::Operator(_), None) => return Err(CrmError::NotFound),
            };
            let mut conversation = match &before {
                Some(doc) => doc.clone(),
                None => {
                    let Some(visitor) = &fresh_visitor else {
                        return Err(CrmError::NotFound);
                    };
                    new_conversation(visitor, &now)
                }
            };
            let message_id = new_id(Kind::Message.id_prefix());
            let key = match client_id {
                Some(client_id) => client_key(&conversation.id, &author, client_id),
                None => format!("{}/{message_id}", conversation.id),
            };
            let mut data = Map::new();
            data.insert("conversation_id".into(), conversation.id.clone().into());
            // Real-time push routes a message to its visitor's widget by this.
            data.insert(
                "visitor_id".into(),
                conversation.data.get("visitor_id").cloned().unwrap_or(Value::Null),
            );
            // The dispatcher finds the website's notification settings by this.
            data.insert(
                "website_id".into(),
                conversation.data.get("website_id").cloned().unwrap_or(Value::Null),
            );
            data.insert("body".into(), body.into());
            data.insert("private".into(), private.into());
            data.insert("client_id".into(), client_id.into());
            let (user_id, visitor_id) = match &author {
                Author::Visitor(v) => {
                    data.insert("author".into(), "visitor".into());
                    data.insert("user_id".into(), Value::Null);
                    (None, Some(v.id.clone()))
                }
                Author::Operator(actor) => {
                    data.insert("author".into(), "operator".into());
                    data.insert("user_id".into(), actor.user_id.clone().into());
                    (Some(actor.user_id.clone()), None)
                }
            };
            let message = Doc {
                id: message_id,
                kind: Kind::Message,
                organization_id: organization_id.into(),
                lead_id: conversation.lead_id.clone(),
                unique_key: Some(key),
                data,
                version: 1,
                date_created: now.clone(),
                date_updated: now.clone(),
                created_by: user_id.clone(),
                updated_by: user_id.clone(),
            };
            // The conversation moves with its message.
            let c = &mut conversation.data;
            c.insert("last_message_at".into(), now.clone().into());
            c.insert("activity_at".into(), now.clone().into());
            if !private {
                // What an inbox lists under the conversation's name (never a private note).
                let preview: String = body.chars().take(PREVIEW_CHARS).collect();
                c.insert("last_message_preview".into(), preview.into());
                let author = if matches!(author, Author::Visitor(_)) {
                    "visitor"
                } else {
                    "operator"
                };
                c.insert("last_message_author".into(), author.into());
            }
            match &author {
                Author::Visitor(_) => {
                    let unread = c.get("unread").and_then(Value::as_i64).unwrap_or(0);
                    c.insert("unread".into(), (unread + 1).into());
                    c.insert("visitor_read_at".into(), now.clone().into());
                    if c.get("status").and_then(Value::as_str) == Some("resolved") {
                        c.insert("status".into(), "open".into());
                    }
                }
                Author::Operator(_) if !private => {
                    // Answering is reading.
                    c.insert("unread".into(), 0.into());
                    c.insert("operator_read_at".into(), now.clone().into());
                }
                Author::Operator(_) => {}
            }
            conversation.date_updated = now.clone();
            conversation.updated_by = user_id.clone();
            match &before {
                None => {
                    let rendered = render(&conversation, &meta, &[]);
                    plan.insert(
                        &conversation,
                        NewEvent::created(
                            Kind::Conversation,
                            &conversation.id,
                            conversation.lead_id.as_deref(),
                            rendered,
                        ),
                    );
                    if let Some(visitor_id) = &visitor_id {
                        // Only from the conversation read above: two first messages at
                        // once start one conversation, the other attempt starts over.
                        plan.stmts.push(Stmt::one(
                            "UPDATE chat_visitors SET conversation_id = ? WHERE id = ? AND COALESCE(conversation_id, '') = ?",
                            vec![
                                conversation.id.clone().into(),
                                visitor_id.clone().into(),
                                visitor_conversation.clone().unwrap_or_default().into(),
                            ],
                        ));
                    }
                }
                Some(before) => {
                    conversation.version += 1;
                    let (old, new) = (render(before, &meta, &[]), render(&conversation, &meta, &[]));
                    let changed = changed_fields(&old, &new);
                    plan.update(
                        &conversation,
                        NewEvent::updated(
                            Kind::Conversation,
                            &conversation.id,
                            conversation.lead_id.as_deref(),
                            changed,
                            &old,
                            new,
                        ),
                    );
                }
            }
            let rendered = render(&message, &meta, &[]);
            // Last, so that the commit's sequence is the message's.
            plan.insert(
                &message,
                NewEvent::created(Kind::Message, &message.id, message.lead_id.as_deref(), rendered.clone()),
            );
            match self
                .commit_plan(organization_id, user_id.as_deref(), Kind::Message, plan)
                .await
            {
                Ok(seq) => {
                    return Ok(Posted {
                        message: rendered,
                        created: true,
                        event_seq: Some(seq),
                    })
                }
                // The same client id again (a resend): the first message is the answer.
                // Checked only now, so a new message costs no lookup.
                Err(DbError::Unique(_)) => {
                    if let Some(client_id) = client_id {
                        if let Some(first) = self
                            .message_by_client_id(organization_id, &client_key(&conversation.id, &author, client_id))
                            .await?
                        {
                            return Ok(Posted {
                                message: render(&first, &meta, &[]),
                                created: false,
                                event_seq: None,
                            });
                        }
                    }
                    // Two first messages at once: the other started the conversation.
                    continue;
                }
                // A concurrent write to the conversation.
                Err(DbError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }

    async fn message_by_client_id(&self, organization_id: &str, key: &str) -> CrmResult<Option<Doc>> {
        let sql =
            format!("SELECT {COLUMNS} FROM objects WHERE organization_id = ? AND object_type = ? AND unique_key = ?");
        let docs = self
            .query_docs(
                organization_id,
                &sql,
                &[organization_id.into(), Kind::Message.object_type().into(), key.into()],
            )
            .await?;
        Ok(docs.into_iter().next())
    }

    /// An operator read the conversation: its unread count goes to zero.
    pub async fn mark_read_by_operator(&self, actor: &Actor, conversation_id: &str) -> CrmResult<Map<String, Value>> {
        let now = time::format(time::now());
        self.change_conversation(&actor.organization_id, Some(&actor.user_id), conversation_id, |c| {
            c.insert("unread".into(), 0.into());
            c.insert("operator_read_at".into(), now.clone().into());
        })
        .await
    }

    /// The visitor saw the conversation's messages.
    pub async fn mark_read_by_visitor(&self, visitor: &Visitor) -> CrmResult<()> {
        let Some(id) = &visitor.conversation_id else {
            return Ok(());
        };
        let now = time::format(time::now());
        self.change_conversation(&visitor.organization_id, None, id, |c| {
            c.insert("visitor_read_at".into(), now.clone().into());
        })
        .await?;
        Ok(())
    }

    /// Changes a conversation's stored fields, with its event.
    async fn change_conversation(
        &self,
        organization_id: &str,
        user_id: Option<&str>,
        id: &str,
        change: impl Fn(&mut Map<String, Value>),
    ) -> CrmResult<Map<String, Value>> {
        self.change_stored(organization_id, user_id, Kind::Conversation, id, change)
            .await?
            .ok_or(CrmError::NotFound)
    }

    /// The visitor gave their email (and name): they become the matching contact (by
    /// email), or a new lead with that contact, and their conversation moves to that lead.
    /// With `hash` (HMAC-SHA256 of the email with the website's identity secret) the email
    /// is verified; a wrong hash is refused.
    pub async fn identify_visitor(
        &self,
        website: &Website,
        visitor: &Visitor,
        email: &str,
        name: Option<&str>,
        hash: Option<&str>,
    ) -> CrmResult<Visitor> {
        let email = email.trim().to_lowercase();
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let mut errors = FieldErrors::new();
        if rapport_core::validate::email(&email).is_err() {
            errors.add("email", "not an email address");
        }
        if name.is_some_and(|n| n.chars().count() > 200) {
            errors.add("name", "at most 200 characters");
        }
        errors.into_result(())?;
        let verified = match hash {
            Some(hash) if website.verifies(&email, hash) => true,
            Some(_) => {
                return Err(CrmError::Forbidden(
                    "the identity hash does not match this email".into(),
                ))
            }
            None => false,
        };
        let org = &visitor.organization_id;
        // An email already linked to this visitor's contact keeps it. Anyone can type an
        // address into a widget: an unverified one never joins an existing customer's
        // lead; operators see the match and confirm it (`link_conversation`).
        let (contact_id, lead_id) = match (&visitor.contact_id, &visitor.lead_id, &visitor.email) {
            (Some(c), Some(l), Some(e)) if *e == email && self.load_in(org, c).await?.is_some() => {
                (c.clone(), l.clone())
            }
            _ => match self.contact_by_email(org, &email).await? {
                Some(found) if verified => found,
                Some((suggested, _)) => {
                    return self.identify_unverified(visitor, &email, name, &suggested).await;
                }
                None => self.new_lead_for_visitor(org, &email, name).await?,
            },
        };
        self.db
            .batch(vec![Stmt::new(
                "UPDATE chat_visitors SET email = ?, name = COALESCE(?, name), email_verified = ?, contact_id = ?, lead_id = ? WHERE id = ?",
                vec![
                    email.clone().into(),
                    name.map(str::to_string).into(),
                    SqlValue::Int(i64::from(verified)),
                    contact_id.clone().into(),
                    lead_id.clone().into(),
                    visitor.id.clone().into(),
                ],
            )])
            .await?;
        if let Some(conversation_id) = &visitor.conversation_id {
            self.move_conversation_to_lead(org, conversation_id, &lead_id, &contact_id, &email, name, verified)
                .await?;
        }
        self.visitor(org, &visitor.id).await?.ok_or(CrmError::NotFound)
    }

    /// An unverified email that matches an existing contact: kept on the visitor and their
    /// conversation, with the match as `suggested_contact_id`, and no lead.
    async fn identify_unverified(
        &self,
        visitor: &Visitor,
        email: &str,
        name: Option<&str>,
        suggested_contact_id: &str,
    ) -> CrmResult<Visitor> {
        let org = &visitor.organization_id;
        self.db
            .batch(vec![Stmt::new(
                "UPDATE chat_visitors SET email = ?, name = COALESCE(?, name), email_verified = 0, contact_id = NULL, lead_id = NULL WHERE id = ?",
                vec![email.into(), name.map(str::to_string).into(), visitor.id.clone().into()],
            )])
            .await?;
        if let Some(conversation_id) = &visitor.conversation_id {
            let (email, name, suggested) = (
                email.to_string(),
                name.map(str::to_string),
                suggested_contact_id.to_string(),
            );
            self.change_stored(org, None, Kind::Conversation, conversation_id, |c| {
                c.insert("visitor_email".into(), email.clone().into());
                c.insert("email_verified".into(), false.into());
                c.insert("suggested_contact_id".into(), suggested.clone().into());
                if let Some(name) = &name {
                    c.insert("visitor_name".into(), name.clone().into());
                }
            })
            .await?;
        }
        self.visitor(org, &visitor.id).await?.ok_or(CrmError::NotFound)
    }

    /// `POST /conversation/{id}/link/` `{contact_id?}`: an operator confirms who the
    /// visitor is: the conversation, its messages and the visitor join that contact's lead
    /// (by default the contact their unverified email matched).
    pub async fn link_conversation(&self, actor: &Actor, id: &str, input: &Value) -> CrmResult<Map<String, Value>> {
        let org = &actor.organization_id;
        let conversation = self
            .load_in(org, id)
            .await?
            .filter(|d| d.kind == Kind::Conversation)
            .ok_or(CrmError::NotFound)?;
        let contact_id = match input.get("contact_id") {
            Some(Value::String(c)) => c.clone(),
            None | Some(Value::Null) => match conversation.str("suggested_contact_id") {
                Some(c) => c.to_string(),
                None => return Err(FieldErrors::field("contact_id", "required: the contact this visitor is").into()),
            },
            Some(_) => return Err(FieldErrors::field("contact_id", "expected a contact id").into()),
        };
        let contact = self
            .load_in(org, &contact_id)
            .await?
            .filter(|d| d.kind == Kind::Contact)
            .ok_or_else(|| CrmError::Invalid(FieldErrors::field("contact_id", "no such contact")))?;
        let lead_id = contact.lead_id.clone().unwrap_or_default();
        let email = conversation.str("visitor_email").unwrap_or_default().to_string();
        let verified = conversation
            .data
            .get("email_verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(visitor_id) = conversation.str("visitor_id") {
            self.db
                .batch(vec![Stmt::new(
                    "UPDATE chat_visitors SET contact_id = ?, lead_id = ? WHERE id = ? AND organization_id = ?",
                    vec![
                        contact_id.as_str().into(),
                        lead_id.as_str().into(),
                        visitor_id.into(),
                        org.as_str().into(),
                    ],
                )])
                .await?;
        }
        let name = conversation.str("visitor_name").map(str::to_string);
        self.move_conversation_to_lead(org, id, &lead_id, &contact_id, &email, name.as_deref(), verified)
            .await?;
        self.conversation(org, id).await?.ok_or(CrmError::NotFound)
    }

    /// The contact (and its lead) with this email, oldest first.
    async fn contact_by_email(&self, organization_id: &str, email: &str) -> CrmResult<Option<(String, String)>> {
        // Emails are stored lowercased; the JSON text holds `"email":"…"` once per address.
        let pattern = format!("%\"email\":{}%", Value::from(email));
        let rows = self
            .db
            .query(
                "SELECT id, lead_id FROM objects WHERE organization_id = ? AND object_type = 'contact' AND data LIKE ? \
                 ORDER BY date_created, id LIMIT 20",
                &[organization_id.into(), pattern.into()],
            )
            .await?;
        for row in &rows {
            let Some(doc) = self.load_in(organization_id, row.get::<&str>("id")?).await? else {
                continue;
            };
            let has = doc
                .data
                .get("emails")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|e| e.get("email").and_then(Value::as_str) == Some(email)));
            if let (true, Some(lead_id)) = (has, doc.lead_id) {
                return Ok(Some((doc.id, lead_id)));
            }
        }
        Ok(None)
    }

    /// A new lead named after the visitor, with them as its contact.
    async fn new_lead_for_visitor(
        &self,
        organization_id: &str,
        email: &str,
        name: Option<&str>,
    ) -> CrmResult<(String, String)> {
        let actor = self.server_actor(organization_id).await?;
        let lead = self
            .create(
                &actor,
                Kind::Lead,
                &json!({
                    "name": name.unwrap_or(email),
                    "description": "Started a chat on the website.",
                    "contacts": [{"name": name.unwrap_or(""), "emails": [{"email": email, "type": "office"}]}],
                }),
                None,
            )
            .await?;
        let lead_id = lead.object.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        let contact_id = lead.object["contacts"][0]["id"].as_str().unwrap_or("").to_string();
        Ok((contact_id, lead_id))
    }

    /// The organization's first admin acts for the server where the write path wants a
    /// user (a lead created for a visitor).
    async fn server_actor(&self, organization_id: &str) -> CrmResult<Actor> {
        let meta = self.meta_current(organization_id).await?;
        let user = meta.users.first().ok_or(CrmError::NotFound)?;
        Ok(Actor {
            organization_id: organization_id.into(),
            user_id: user.id.clone(),
            role: "admin".into(),
            meta_version: 0,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn move_conversation_to_lead(
        &self,
        organization_id: &str,
        conversation_id: &str,
        lead_id: &str,
        contact_id: &str,
        email: &str,
        name: Option<&str>,
        verified: bool,
    ) -> CrmResult<()> {
        let meta = self.meta_current(organization_id).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(before) = self.load_in(organization_id, conversation_id).await? else {
                return Ok(());
            };
            let mut doc = before.clone();
            doc.lead_id = Some(lead_id.into());
            doc.data.insert("contact_id".into(), contact_id.into());
            // Linked: whatever an unverified email suggested is settled.
            doc.data.remove("suggested_contact_id");
            doc.data.insert("visitor_email".into(), email.into());
            doc.data.insert("email_verified".into(), verified.into());
            if let Some(name) = name {
                doc.data.insert("visitor_name".into(), name.into());
            }
            doc.version += 1;
            doc.date_updated = time::format(time::now());
            let (old, new) = (render(&before, &meta, &[]), render(&doc, &meta, &[]));
            let changed = changed_fields(&old, &new);
            let mut plan = Plan::default();
            plan.update(
                &doc,
                NewEvent::updated(Kind::Conversation, &doc.id, Some(lead_id), changed, &old, new),
            );
            // The conversation and its messages now hang from the lead (search, timeline).
            let (start, end) = message_key_range(conversation_id);
            plan.stmts.push(Stmt::new(
                "UPDATE objects SET lead_id = ? WHERE organization_id = ? AND (id = ? OR (unique_key >= ? AND unique_key < ? AND object_type = ?))",
                vec![
                    lead_id.into(),
                    organization_id.into(),
                    conversation_id.into(),
                    start.into(),
                    end.into(),
                    Kind::Message.object_type().into(),
                ],
            ));
            match self.commit_as(organization_id, None, Kind::Conversation, plan).await {
                Ok(_) => return Ok(()),
                Err(CrmError::Db(DbError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CrmError::Db(DbError::Conflict))
    }

    /// The emails of the people to tell about an unread visitor message: the assignee, else
    /// the website's operators ([`Website::has_operator_among`]: every user when it names
    /// none), in the team's order.
    pub async fn chat_recipients(
        &self,
        website: &Website,
        conversation: &Map<String, Value>,
    ) -> CrmResult<Vec<String>> {
        let meta = self.meta_current(&website.organization_id).await?;
        let email_of = |id: &str| meta.user(id).map(|u| u.email.clone());
        if let Some(email) = conversation
            .get("assigned_to")
            .and_then(Value::as_str)
            .and_then(email_of)
        {
            return Ok(vec![email]);
        }
        Ok(meta
            .users
            .iter()
            .filter(|u| website.has_operator_among([u.id.as_str()]))
            .map(|u| u.email.clone())
            .collect())
    }
}

fn new_conversation(visitor: &Visitor, now: &str) -> Doc {
    let mut data = Map::new();
    data.insert("status".into(), "open".into());
    data.insert("assigned_to".into(), Value::Null);
    data.insert("website_id".into(), visitor.website_id.clone().into());
    data.insert("visitor_id".into(), visitor.id.clone().into());
    data.insert("visitor_name".into(), visitor.name.clone().into());
    data.insert("visitor_email".into(), visitor.email.clone().into());
    data.insert("email_verified".into(), visitor.email_verified.into());
    data.insert("contact_id".into(), visitor.contact_id.clone().into());
    data.insert("unread".into(), 0.into());
    Doc {
        id: new_id(Kind::Conversation.id_prefix()),
        kind: Kind::Conversation,
        organization_id: visitor.organization_id.clone(),
        lead_id: visitor.lead_id.clone(),
        unique_key: None,
        data,
        version: 1,
        date_created: now.into(),
        date_updated: now.into(),
        created_by: None,
        updated_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_checked() {
        assert_eq!(
            normalize_origin("https://Example.com/"),
            Some("https://example.com".into())
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080".into())
        );
        assert_eq!(normalize_origin("example.com"), None);
        assert_eq!(normalize_origin("https://example.com/path"), None);
        assert_eq!(normalize_origin("ftp://example.com"), None);
        let site = |origins: Value| Website {
            id: "site_1".into(),
            organization_id: "orga_1".into(),
            data: json!({"allowed_origins": origins}).as_object().unwrap().clone(),
        };
        assert!(site(json!([])).allows_origin(None));
        let only = site(json!(["https://shop.example.com"]));
        assert!(only.allows_origin(Some("https://shop.example.com")));
        assert!(!only.allows_origin(Some("https://evil.example.com")));
        assert!(!only.allows_origin(None));
    }

    #[test]
    fn identity_hash_is_hmac_sha256_of_the_email() {
        let site = Website {
            id: "site_1".into(),
            organization_id: "orga_1".into(),
            data: json!({"identity_secret": "s3cret"}).as_object().unwrap().clone(),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"jo@example.com");
        let hash = hex::encode(mac.finalize().into_bytes());
        assert!(site.verifies("jo@example.com", &hash));
        assert!(!site.verifies("other@example.com", &hash));
        assert!(!site.verifies("jo@example.com", "not hex"));
    }
}
