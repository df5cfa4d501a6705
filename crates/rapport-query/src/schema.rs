//! What the caller tells the binder about the organization and the moment: custom fields,
//! statuses, users, Smart Views, who is asking, now, and the caller's time zone. Plain data:
//! the crate reads nothing itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything [`crate::resolve`] needs besides the query.
#[derive(Debug, Clone, Default)]
pub struct SearchContext {
    pub custom_fields: Vec<CustomField>,
    /// Lead status labels.
    pub lead_statuses: Vec<String>,
    pub opportunity_statuses: Vec<OpportunityStatus>,
    pub users: Vec<User>,
    /// The Smart Views visible to the caller, for `in:`.
    pub saved_views: Vec<SavedView>,
    /// The user `me` stands for.
    pub current_user_id: Option<String>,
    /// Taken once per query, so every date in it is resolved against the same instant.
    pub now: DateTime<Utc>,
    /// Hours east of UTC (`X-TZ-Offset`, else the user's setting, else 0); may be
    /// fractional (5.5). Days and weeks begin at midnight here.
    pub tz_offset_hours: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Number,
    Date,
    Datetime,
    Choices,
    User,
}

/// Which objects carry a custom field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldObject {
    Lead,
    Contact,
    Opportunity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    pub value_type: CustomFieldType,
    /// The allowed values of a `choices` field.
    pub choices: Vec<String>,
    pub accepts_multiple_values: bool,
    pub object: CustomFieldObject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusType {
    Active,
    Won,
    Lost,
}

impl StatusType {
    pub const ALL: [StatusType; 3] = [StatusType::Active, StatusType::Won, StatusType::Lost];

    pub fn name(self) -> &'static str {
        match self {
            StatusType::Active => "active",
            StatusType::Won => "won",
            StatusType::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpportunityStatus {
    pub label: String,
    pub status_type: StatusType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub full_name: String,
    pub email: String,
}

/// A Smart View: a saved query string.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedView {
    pub id: String,
    pub name: String,
    pub query: String,
}
