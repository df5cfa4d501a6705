//! A lead with everything a query can look at, as plain data for the reference evaluator.
//! Labels are given as labels (status, opportunity status), users by id, phones in E.164.
//! An empty string counts as no value.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::schema::StatusType;

/// Custom-field values by custom-field id; a multi-value field has several.
pub type CustomValues = BTreeMap<String, Vec<CustomValue>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CustomValue {
    /// Text, a choice's label, or a user id, by the field's type.
    Text(String),
    Number(f64),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    /// The status label.
    pub status: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub addresses: Vec<Address>,
    pub contacts: Vec<Contact>,
    pub activities: Vec<Activity>,
    pub opportunities: Vec<Opportunity>,
    pub tasks: Vec<Task>,
    pub custom: CustomValues,
    /// The lead's free text folded and split into words once ([`Lead::prepare`]), so that
    /// a search over many leads does not fold every lead's text again for each query.
    #[serde(skip)]
    pub prepared: Option<std::sync::Arc<PreparedText>>,
}

/// A lead's searchable text values (§2), each folded and split into words, and the text
/// custom fields it was prepared for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedText {
    pub(crate) text_custom_fields: std::collections::BTreeSet<String>,
    pub(crate) values: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub address_1: Option<String>,
    pub address_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zipcode: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub title: Option<String>,
    pub emails: Vec<String>,
    /// E.164 (`+14155550123`).
    pub phones: Vec<String>,
    pub custom: CustomValues,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// When it happened; a meeting's defaults to its start.
    pub activity_at: DateTime<Utc>,
    /// The user who did it.
    pub user: Option<String>,
    pub kind: ActivityKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActivityKind {
    Note {
        body: Option<String>,
    },
    Call {
        /// Seconds.
        duration: Option<i64>,
        direction: Option<String>,
        status: Option<String>,
        note: Option<String>,
    },
    Email {
        subject: Option<String>,
        body: Option<String>,
        direction: Option<String>,
        /// `draft` for a draft; drafts are left out of `emails`, `last_emailed` and
        /// `last_activity`.
        status: Option<String>,
        /// When it was opened.
        opens: Vec<DateTime<Utc>>,
    },
    Sms {
        body: Option<String>,
        direction: Option<String>,
    },
    Meeting {
        title: Option<String>,
    },
    Chat {
        body: Option<String>,
        status: Option<String>,
        assignee: Option<String>,
    },
    StatusChange {
        old_status: Option<String>,
        new_status: Option<String>,
    },
}

impl ActivityKind {
    pub fn is_draft_email(&self) -> bool {
        matches!(self, ActivityKind::Email { status: Some(s), .. } if s.eq_ignore_ascii_case("draft"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    pub status_label: String,
    pub status_type: StatusType,
    pub value_cents: Option<i64>,
    /// 0–100.
    pub confidence: Option<i64>,
    pub close_date: Option<NaiveDate>,
    pub user: Option<String>,
    pub note: Option<String>,
    pub custom: CustomValues,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub text: String,
    pub due: Option<Due>,
    pub assignee: Option<String>,
    pub done: bool,
}

/// A task's due date: a calendar day or a moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Due {
    Day(NaiveDate),
    At(DateTime<Utc>),
}
