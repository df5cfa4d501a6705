//! A write's row changes and events, committed together in one transaction (`write.rs`).

use rapport_store::Stmt;

use crate::doc::Doc;
use crate::events::NewEvent;

/// How often an operation starts over from fresh reads after a concurrent change.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// Row changes and events of one operation, committed together.
#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) stmts: Vec<Stmt>,
    pub(crate) events: Vec<NewEvent>,
}

impl Plan {
    pub(crate) fn insert(&mut self, doc: &Doc, event: NewEvent) {
        self.stmts.push(doc.insert_stmt());
        self.events.push(event);
    }

    pub(crate) fn update(&mut self, doc: &Doc, event: NewEvent) {
        self.stmts.push(doc.update_stmt());
        self.events.push(event);
    }

    pub(crate) fn delete(&mut self, doc: &Doc, event: NewEvent) {
        self.stmts.push(doc.delete_stmt());
        self.events.push(event);
    }
}
