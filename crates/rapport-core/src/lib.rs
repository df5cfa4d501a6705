//! Rapport's domain, with no I/O: prefixed ids, times in Close's format, the object kinds
//! and their field specifications, input validation with field errors, and the event type.
//!
//! Everything here is pure so it can be used by the API, the CLI, workers and tests alike.

pub mod fields;
pub mod id;
pub mod kind;
pub mod time;
pub mod validate;

pub use fields::{Access, FieldSpec, FieldType};
pub use id::new_id;
pub use kind::Kind;
pub use validate::FieldErrors;
