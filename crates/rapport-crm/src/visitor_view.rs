//! What a website's visitor sees: their own conversation's public messages, in one shape
//! (`{"id", "client_id", "body", "author", "operator_name", "date_created", "seq"}`),
//! whether they come from the event log (the widget's websocket and long poll) or from the
//! store (a session that resumes).
//!
//! Private notes are never shown to a visitor; an operator's name appears only on an
//! operator's message; a visitor adopts the conversation whose `conversation.created`
//! event names them (their first message started it, perhaps on another node).

use serde_json::{json, Map, Value};

use crate::{Crm, CrmResult, Visitor};

/// A message as the visitor sees it: the operator's name only on an operator's message
/// (`author` is `system` when the message names none), `seq` its place in the event log
/// when known.
pub fn visitor_message(message: &Map<String, Value>, seq: Option<i64>) -> Value {
    let author = message.get("author").and_then(Value::as_str).unwrap_or("system");
    let operator_name = match author {
        "operator" => message.get("user_name").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    json!({
        "id": message.get("id"),
        "client_id": message.get("client_id"),
        "body": message.get("body"),
        "author": author,
        "operator_name": operator_name,
        "date_created": message.get("date_created"),
        "seq": seq,
    })
}

/// Whether a message is a private note, for operators only.
fn is_private(message: &Map<String, Value>) -> bool {
    message.get("private") == Some(&Value::Bool(true))
}

impl Visitor {
    /// What an event of the visitor's organization (at `seq` in the log) shows this
    /// visitor: a message of their conversation that is not a private note, in
    /// [`visitor_message`]'s shape; nothing otherwise. The `conversation.created` event
    /// that names this visitor makes that conversation theirs (shows nothing itself).
    pub fn visitor_frame(&mut self, event: &Value, seq: i64) -> Option<Value> {
        let data = &event["data"];
        let created = event["action"] == "created";
        if event["object_type"] == "conversation" && created && data["visitor_id"] == self.id.as_str() {
            self.conversation_id = data["id"].as_str().map(Into::into);
            return None;
        }
        let mine = self
            .conversation_id
            .as_deref()
            .is_some_and(|c| data["conversation_id"] == c);
        match data {
            Value::Object(message) if event["object_type"] == "message" && created && mine && !is_private(message) => {
                Some(visitor_message(message, Some(seq)))
            }
            _ => None,
        }
    }

    /// Whether the visitor is shown that someone types in `conversation_id`: an operator
    /// in the visitor's own conversation (never the visitor's own typing echoed back).
    pub fn sees_typing(&self, conversation_id: &str, author: &str) -> bool {
        self.conversation_id.as_deref() == Some(conversation_id) && author == "operator"
    }
}

impl Crm {
    /// The visitor's conversation as the widget shows it on (re)opening: `{"id",
    /// "status"}` (none before their first message) and its messages, oldest first, in
    /// [`visitor_message`]'s shape, private notes left out.
    pub async fn visitor_conversation(&self, visitor: &Visitor) -> CrmResult<(Option<Value>, Vec<Value>)> {
        let Some(id) = &visitor.conversation_id else {
            return Ok((None, Vec::new()));
        };
        let org = &visitor.organization_id;
        let conversation = self.conversation(org, id).await?;
        let messages = self.conversation_messages(org, id, false).await?;
        Ok((
            conversation.map(|c| json!({"id": c["id"], "status": c["status"]})),
            messages.iter().map(|m| visitor_message(m, None)).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visitor(id: &str, conversation_id: Option<&str>) -> Visitor {
        Visitor {
            id: id.into(),
            organization_id: "orga_1".into(),
            website_id: "site_1".into(),
            name: None,
            email: None,
            email_verified: false,
            contact_id: None,
            lead_id: None,
            conversation_id: conversation_id.map(Into::into),
        }
    }

    fn event(object_type: &str, action: &str, data: Value) -> Value {
        json!({"object_type": object_type, "action": action, "data": data})
    }

    fn message(id: &str, conversation: &str, author: &str, extra: Value) -> Value {
        let mut data = json!({
            "id": id, "conversation_id": conversation, "client_id": format!("c-{id}"), "body": format!("body of {id}"),
            "author": author, "user_name": "Olga Operator", "date_created": "2024-05-01T10:00:00.000000+00:00",
        });
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        data
    }

    fn frame(id: &str, author: &str, operator_name: Value, seq: i64) -> Value {
        json!({
            "id": id, "client_id": format!("c-{id}"), "body": format!("body of {id}"), "author": author,
            "operator_name": operator_name, "date_created": "2024-05-01T10:00:00.000000+00:00", "seq": seq,
        })
    }

    /// Events of the organization's log, in order, and what visitor `visitor_1` (who
    /// starts without a conversation) is sent for each.
    #[test]
    fn a_visitor_sees_only_their_conversations_public_messages() {
        let table: Vec<(&str, Value, Option<Value>)> = vec![
            (
                "a message before the visitor has a conversation",
                event("message", "created", message("msg_0", "conv_1", "operator", json!({}))),
                None,
            ),
            (
                "another visitor's conversation starts",
                event(
                    "conversation",
                    "created",
                    json!({"id": "conv_2", "visitor_id": "visitor_2"}),
                ),
                None,
            ),
            (
                "the visitor's conversation starts: adopted, nothing sent",
                event(
                    "conversation",
                    "created",
                    json!({"id": "conv_1", "visitor_id": "visitor_1"}),
                ),
                None,
            ),
            (
                "the visitor's own message: no operator name although the message has one",
                event("message", "created", message("msg_1", "conv_1", "visitor", json!({}))),
                Some(frame("msg_1", "visitor", Value::Null, 4)),
            ),
            (
                "an operator's reply, with the operator's name",
                event("message", "created", message("msg_2", "conv_1", "operator", json!({}))),
                Some(frame("msg_2", "operator", json!("Olga Operator"), 5)),
            ),
            (
                "a private note in the visitor's conversation never passes",
                event(
                    "message",
                    "created",
                    message("msg_3", "conv_1", "operator", json!({"private": true})),
                ),
                None,
            ),
            (
                "a message saying private: false passes",
                event(
                    "message",
                    "created",
                    message("msg_4", "conv_1", "operator", json!({"private": false})),
                ),
                Some(frame("msg_4", "operator", json!("Olga Operator"), 7)),
            ),
            (
                "a message without an author is the system's",
                event(
                    "message",
                    "created",
                    message("msg_5", "conv_1", "x", json!({"author": null})),
                ),
                Some(frame("msg_5", "system", Value::Null, 8)),
            ),
            (
                "another conversation's message",
                event("message", "created", message("msg_6", "conv_2", "operator", json!({}))),
                None,
            ),
            (
                "a change to a message is not a new message",
                event("message", "updated", message("msg_2", "conv_1", "operator", json!({}))),
                None,
            ),
            (
                "a lead's event",
                event("lead", "created", json!({"id": "lead_1", "conversation_id": "conv_1"})),
                None,
            ),
        ];
        let mut visitor = visitor("visitor_1", None);
        for (seq, (what, event, expected)) in table.into_iter().enumerate() {
            let seq = seq as i64 + 1;
            assert_eq!(visitor.visitor_frame(&event, seq), expected, "{what}");
        }
        assert_eq!(visitor.conversation_id.as_deref(), Some("conv_1"));
    }

    #[test]
    fn only_an_operator_typing_in_the_visitors_conversation_shows() {
        let none = visitor("visitor_1", None);
        assert!(!none.sees_typing("conv_1", "operator"));
        let mine = visitor("visitor_1", Some("conv_1"));
        assert!(mine.sees_typing("conv_1", "operator"));
        assert!(!mine.sees_typing("conv_1", "visitor"));
        assert!(!mine.sees_typing("conv_2", "operator"));
    }

    #[test]
    fn a_stored_message_shows_without_a_seq() {
        let stored = message("msg_1", "conv_1", "operator", json!({}));
        let shown = visitor_message(stored.as_object().unwrap(), None);
        assert_eq!(shown["operator_name"], "Olga Operator");
        assert_eq!(shown["seq"], Value::Null);
        assert!(shown.get("user_name").is_none() && shown.get("conversation_id").is_none());
    }
}
