//! `in:`: Smart Views, looked up by id or name and expanded in place, with cycles refused.

use super::{Binder, MAX_VIEW_EXPANSIONS};
use crate::error::{list_or, ticked, QueryError, QueryResult};
use crate::fields::Scope;
use crate::filter::Filter;
use crate::parser::parse;
use crate::print::value_text;
use crate::span::Span;
use crate::text::{self, fold};

impl Binder<'_> {
    pub(super) fn saved_search(&mut self, id: &str, span: Span, scope: Scope) -> QueryResult<Filter> {
        if let Scope::Object(kind) = scope {
            return Err(QueryError::new(
                format!("`in:` cannot stand inside `{}(`", kind.name()),
                span,
                "a Smart View selects leads: put `in:` outside the related clause",
            ));
        }
        let ctx = self.ctx;
        let views = &ctx.saved_views;
        let view = match views.iter().find(|v| v.id == id) {
            Some(view) => view,
            None => {
                let named: Vec<_> = views.iter().filter(|v| fold(&v.name) == fold(id)).collect();
                match named.as_slice() {
                    [view] => *view,
                    [] => {
                        let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
                        let hint = match text::nearest(id, names.iter().copied()).first() {
                            Some(name) => format!("did you mean `{name}`?"),
                            None if names.is_empty() => "there are no Smart Views yet".to_string(),
                            None => format!("Smart Views are {}", list_or(&ticked(&names, 10))),
                        };
                        return Err(QueryError::new(format!("unknown Smart View `{id}`"), span, hint));
                    }
                    several => {
                        let ids: Vec<&str> = several.iter().map(|v| v.id.as_str()).collect();
                        return Err(QueryError::new(
                            format!("two Smart Views are named `{id}`: {}", list_or(&ticked(&ids, 10))),
                            span,
                            format!("use the id: `in:{}`", value_text(ids[0])),
                        ));
                    }
                }
            }
        };
        if let Some(start) = self.open_views.iter().position(|open| *open == view.id) {
            let names: Vec<&str> = self.open_views[start..]
                .iter()
                .chain(std::iter::once(&view.id))
                .map(|id| {
                    views
                        .iter()
                        .find(|v| v.id == *id)
                        .map_or(id.as_str(), |v| v.name.as_str())
                })
                .collect();
            // The cycle names every view in it; no one view is to blame.
            self.view_blamed = true;
            return Err(QueryError::new(
                format!("Smart View `{}` includes itself: {}", view.name, names.join(" → ")),
                span,
                "remove one of the `in:` clauses that close the circle",
            ));
        }
        self.expansions += 1;
        if self.expansions > MAX_VIEW_EXPANSIONS {
            return Err(QueryError::new(
                format!("the query includes Smart Views more than {MAX_VIEW_EXPANSIONS} times"),
                span,
                "use fewer `in:` clauses, or write the conditions of the views that are included many times directly",
            ));
        }
        // Only the view's filter applies; its sort keys are the view's own business.
        self.open_views.push(view.id.clone());
        let filter = parse(&view.query).and_then(|saved| self.node(&saved.query, Scope::Lead));
        self.open_views.pop();
        filter.map_err(|e| self.blame_view(e, &view.name, span))
    }

    /// Points an error found inside a Smart View at the `in:` clause the user wrote (the
    /// view's own text is not in the query), naming the innermost view at fault once.
    fn blame_view(&mut self, mut error: QueryError, view_name: &str, span: Span) -> QueryError {
        if !self.view_blamed {
            error.message = format!("the Smart View `{view_name}` cannot be used: {}", error.message);
            self.view_blamed = true;
        }
        error.span = (span.start, span.end);
        error
    }
}
