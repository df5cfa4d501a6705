//! A pipeline (Close's `pipeline`): an ordered set of opportunity statuses.

use rapport_core::Kind;

use super::Deleting;
use crate::doc::Doc;
use crate::meta::OrgMeta;
use crate::{CrmError, CrmResult};

/// Unique by name, ignoring case.
pub(super) fn fill(doc: &mut Doc) {
    doc.unique_key = doc.str("name").map(|n| n.trim().to_lowercase());
}

/// Refused while opportunity statuses are in it.
pub(super) fn plan_delete(meta: &OrgMeta, doc: &Doc) -> CrmResult<Deleting> {
    let statuses = meta
        .of_kind(Kind::OpportunityStatus)
        .filter(|s| s.str("pipeline_id") == Some(doc.id.as_str()))
        .count();
    if statuses > 0 {
        return Err(CrmError::Refused(format!(
            "this pipeline still has {statuses} opportunity statuses; delete or move them first"
        )));
    }
    Ok(Deleting::It)
}
