//! The CRM's one write path and its read models.
//!
//! Every change goes through [`Crm`]: input is checked against the kind's field table
//! (`rapport_core::fields`), references are resolved inside the caller's organization,
//! and the object rows are written together with their event rows in one transaction
//! (the transactional outbox). Nothing else writes objects. Reads render objects in
//! Close's shapes.

mod accounts;
mod chat;
mod custom;
mod doc;
mod events;
mod kinds;
pub mod limits;
mod list;
mod meta;
mod passwords;
mod plan;
mod rate_counts;
mod render;
mod roles;
mod search;
mod searchable;
mod sessions;
pub mod slots;
mod system;
mod team;
mod visitor_view;
mod website_operators;
mod write;

use rapport_core::FieldErrors;
use rapport_store::{Db, DbError};

pub use accounts::{ApiKeyCreated, NewOrganization};
pub use chat::{
    Posted, Visitor, Website, DEFAULT_NOTIFY_DELAY_SECONDS, MAX_BODY_CHARS, VISITOR_HEARTBEAT, VISITOR_ONLINE_FOR,
};
pub use events::{EventPage, EventQuery};
pub use list::{ListQuery, Page, DEFAULT_LIMIT, MAX_LIMIT};
pub use roles::{permissions_markdown, JobAction, Permission, Role, PERMISSIONS};
pub use search::TimeZone;
pub use searchable::{LeadSelection, SearchableOrg, StoredLeads};
pub use sessions::{
    Session, LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_SECONDS, MAX_DRAFTS, MAX_DRAFT_CHARS, SESSION_SECONDS,
};
pub use team::{PasswordReset, RESETS_PER_HOUR, RESET_SECONDS};
pub use visitor_view::visitor_message;
pub use write::{Idempotency, Written};

/// Who is acting: a user within one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    /// The organization's configuration version when the actor was authenticated; the
    /// cached statuses, pipelines, custom fields and users are reused while it holds.
    pub meta_version: i64,
}

/// Settings of the write path.
#[derive(Debug, Clone)]
pub struct CrmConfig {
    /// Region of phone numbers given without a country code (ISO 3166, e.g. `US`).
    pub phone_region: String,
}

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            phone_region: "US".into(),
        }
    }
}

/// What a caller of the CRM can get wrong, or what can go wrong beneath it.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// Missing, or in another organization: the two are indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// Refused because of the state of other objects (a status still in use…).
    #[error("{0}")]
    Refused(String),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Temporarily unable to answer (the search index is catching up).
    #[error("{0}")]
    Unavailable(String),
    /// Too many failed logins for an email lately ([`LOGIN_FAILURES_ALLOWED`]);
    /// the password was not checked.
    #[error("too many failed logins for this email; try again in {}", sessions::wait_text(*.retry_after_seconds))]
    TooManyLogins { retry_after_seconds: u64 },
    /// An `Idempotency-Key` reused with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// A search query that cannot be run.
    #[error("{}", .0.message)]
    Query(rapport_query::QueryError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<FieldErrors> for CrmError {
    fn from(e: FieldErrors) -> Self {
        CrmError::Invalid(e)
    }
}

pub type CrmResult<T> = Result<T, CrmError>;

/// The CRM service. Cheap to clone.
#[derive(Clone)]
pub struct Crm {
    db: Db,
    config: CrmConfig,
    meta_cache: meta::MetaCache,
    /// The event log; the write path wakes its in-process tails after every commit.
    log: rapport_log::EventLog,
}

impl Crm {
    pub fn new(db: Db, config: CrmConfig) -> Self {
        Crm {
            log: rapport_log::EventLog::new(db.clone()),
            db,
            config,
            meta_cache: meta::MetaCache::default(),
        }
    }
}
