//! What a kind's field table is written with: a field's type (`FieldType`), who may write it
//! (`Access`), the entry itself (`FieldSpec`), the constructors each table uses (`rw`,
//! `required`, `create_only`, `read_only`, `write_only`) and the common text types. Not a
//! kind; `crate::fields` re-exports the types and checks input against the tables.

use crate::kind::Kind;

/// How a field's value is checked and normalized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// A string of at most this many characters.
    Text(usize),
    Int {
        min: i64,
        max: i64,
    },
    Number,
    Bool,
    DateTime,
    Date,
    /// A calendar date or a date-time (task due dates).
    DateOrDateTime,
    /// One of a closed set of values.
    Choice(&'static [&'static str]),
    Url,
    /// The id of an object of this kind in the same organization (checked by the store).
    Ref(Kind),
    /// The id of a user of the organization.
    UserRef,
    /// A list of plain strings (custom field choices).
    Labels,
    /// A list of email addresses (an email's `to`, `cc`, `bcc`).
    EmailAddresses,
    /// `[{"email", "type"}]`
    Emails,
    /// `[{"phone", "type"}]`, stored in E.164.
    Phones,
    /// `[{"url", "type"}]`
    Urls,
    /// `[{"label", "address_1", "address_2", "city", "state", "zipcode", "country"}]`
    Addresses,
    /// `[{"opened_at", "opened_by", "ip_address", "user_agent"}]`
    Opens,
    /// Contacts created with a lead: each one a contact's input.
    Contacts,
    /// `[{"object_type", "action"}]`: the events a webhook subscription receives.
    EventFilters,
}

/// Who may set a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Set on create, changed with PUT.
    ReadWrite,
    /// Set on create only.
    CreateOnly,
    /// Computed by the server; refused on input.
    ReadOnly,
    /// Accepted on create (and PUT if `update`), turned into other fields, never stored.
    WriteOnly { update: bool },
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub access: Access,
    pub required: bool,
    pub doc: &'static str,
}

pub(crate) const fn rw(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadWrite,
        required: false,
        doc,
    }
}
pub(crate) const fn required(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadWrite,
        required: true,
        doc,
    }
}
pub(crate) const fn create_only(name: &'static str, ty: FieldType, required: bool, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::CreateOnly,
        required,
        doc,
    }
}
pub(crate) const fn read_only(name: &'static str, ty: FieldType, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::ReadOnly,
        required: false,
        doc,
    }
}
pub(crate) const fn write_only(name: &'static str, ty: FieldType, update: bool, doc: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        access: Access::WriteOnly { update },
        required: false,
        doc,
    }
}

pub(crate) const TEXT: FieldType = FieldType::Text(10_000);
pub(crate) const LONG_TEXT: FieldType = FieldType::Text(1_000_000);
pub(crate) const NAME: FieldType = FieldType::Text(500);
pub(crate) const ID: FieldType = FieldType::Text(64);
