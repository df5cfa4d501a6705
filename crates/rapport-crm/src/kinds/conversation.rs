//! A chat conversation (`conversation`): a visitor's chat with the team on one website.

use rapport_core::Kind;

use super::Deleting;
use crate::doc::Doc;
use crate::events::NewEvent;
use crate::meta::OrgMeta;
use crate::plan::Plan;
use crate::render::render;
use crate::{Actor, Crm, CrmResult};

/// Its messages go with it.
pub(super) async fn plan_delete(
    crm: &Crm,
    actor: &Actor,
    meta: &OrgMeta,
    doc: &Doc,
    plan: &mut Plan,
) -> CrmResult<Deleting> {
    for message in crm.conversation_message_docs(&actor.organization_id, &doc.id).await? {
        plan.delete(
            &message,
            NewEvent::deleted(
                Kind::Message,
                &message.id,
                message.lead_id.as_deref(),
                render(&message, meta, &[]),
            ),
        );
    }
    Ok(Deleting::It)
}
