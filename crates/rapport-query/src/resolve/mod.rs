//! The binder: checks a parsed query against the organization's schema and turns it into
//! a [`ResolvedQuery`], with statuses, users, custom fields and Smart Views looked up and
//! every date resolved against one `now`.

use crate::ast::{Direction, FieldSpans, Node, ObjectType, Op, Query, SortKey};
use crate::dates::{tz_from_hours, Clock};
use crate::error::{QueryError, QueryResult};
use crate::fields::{self, Route, Scope, ValueType};
use crate::filter::{self, Comparison, Field, Filter, Order, ResolvedQuery, SortField, Test};
use crate::limits::Budget;
use crate::schema::{CustomFieldType, SearchContext};
use crate::span::Span;
use crate::text::{self, fold, TextPattern};

mod lookup;
mod values;
mod views;

use lookup::field_text;
use values::no_words;

/// A Smart View may include others; this many inclusions in one query are plenty, and
/// the cap keeps views that include each other many times from blowing up.
const MAX_VIEW_EXPANSIONS: usize = 64;

/// Checks `query` against `ctx` and resolves it. The errors name what the user wrote,
/// with its span in the query string.
pub fn resolve(query: &Query, ctx: &SearchContext) -> QueryResult<ResolvedQuery> {
    let Some(tz) = tz_from_hours(ctx.tz_offset_hours) else {
        return Err(QueryError::new(
            format!("the time-zone offset {} hours is out of range", ctx.tz_offset_hours),
            Span::default(),
            "X-TZ-Offset is hours east of UTC, between -24 and 24, e.g. -7 or 5.5",
        ));
    };
    let mut binder = Binder {
        ctx,
        clock: Clock { now: ctx.now, tz },
        open_views: Vec::new(),
        expansions: 0,
        view_blamed: false,
        budget: Budget::default(),
    };
    let filter = binder.node(&query.query, Scope::Lead)?;
    let keys = query
        .sort
        .iter()
        .map(|key| binder.sort_key(key))
        .collect::<QueryResult<Vec<_>>>()?;
    let mut relevance_terms = Vec::new();
    collect_relevance_terms(&filter, None, &mut relevance_terms);
    let order = if !keys.is_empty() {
        Order::Keys(keys)
    } else if !relevance_terms.is_empty() {
        Order::Relevance
    } else {
        Order::Keys(vec![filter::SortKey {
            field: SortField::Updated,
            direction: Direction::Desc,
        }])
    };
    Ok(ResolvedQuery {
        filter,
        order,
        relevance_terms,
        tz,
        user_sort_names: ctx.users.iter().map(|u| (u.id.clone(), fold(&u.full_name))).collect(),
        text_custom_fields: ctx
            .custom_fields
            .iter()
            .filter(|f| f.value_type == CustomFieldType::Text)
            .map(|f| f.id.clone())
            .collect(),
    })
}

/// Free text that is not negated: what relevance counts.
fn collect_relevance_terms(
    filter: &Filter,
    scope: Option<ObjectType>,
    out: &mut Vec<(Option<ObjectType>, TextPattern)>,
) {
    match filter {
        Filter::And(items) | Filter::Or(items) => {
            for item in items {
                collect_relevance_terms(item, scope, out);
            }
        }
        Filter::Text(pattern) => out.push((scope, pattern.clone())),
        Filter::Related(kind, inner) => collect_relevance_terms(inner, Some(*kind), out),
        Filter::Not(_) | Filter::Field(..) => {}
    }
}

struct Binder<'a> {
    ctx: &'a SearchContext,
    clock: Clock,
    /// The Smart Views being expanded, outermost first, to report cycles.
    open_views: Vec<String>,
    expansions: usize,
    /// Whether the error on its way out has been attributed to a Smart View already.
    view_blamed: bool,
    /// The clauses and words bound so far, those of expanded Smart Views included.
    budget: Budget,
}

/// A field name resolved in its scope.
struct BoundField {
    /// The name as the user wrote it, for messages.
    written: String,
    field: Field,
    value_type: ValueType,
    route: Route,
}

impl Binder<'_> {
    fn node(&mut self, node: &Node, scope: Scope) -> QueryResult<Filter> {
        self.budget.charge(node)?;
        self.budget.enter(node)?;
        let filter = self.bind(node, scope);
        self.budget.leave();
        filter
    }

    fn bind(&mut self, node: &Node, scope: Scope) -> QueryResult<Filter> {
        Ok(match node {
            Node::And { queries, .. } => Filter::And(self.nodes(queries, scope)?),
            Node::Or { queries, .. } => Filter::Or(self.nodes(queries, scope)?),
            Node::Not { query, .. } => Filter::Not(Box::new(self.node(query, scope)?)),
            Node::Text { value, phrase, span } => match TextPattern::new(value, *phrase) {
                Some(pattern) => Filter::Text(pattern),
                None => return Err(no_words(value, *span)),
            },
            Node::Field {
                field,
                op,
                value,
                phrase,
                spans,
            } => self.field_clause(field, *op, value, *phrase, *spans, scope)?,
            Node::Related {
                object_type,
                query,
                span,
            } => {
                if let Scope::Object(outer) = scope {
                    return Err(QueryError::new(
                        format!("`{}(` cannot stand inside `{}(`", object_type.name(), outer.name()),
                        *span,
                        "write related clauses side by side: `contact(…) call(…)`",
                    ));
                }
                let inner = self.node(query, Scope::Object(*object_type))?;
                Filter::Related(*object_type, Box::new(inner))
            }
            Node::SavedSearch { id, span } => self.saved_search(id, *span, scope)?,
        })
    }

    fn nodes(&mut self, nodes: &[Node], scope: Scope) -> QueryResult<Vec<Filter>> {
        nodes.iter().map(|n| self.node(n, scope)).collect()
    }

    fn field_clause(
        &mut self,
        name: &str,
        op: Op,
        value: &str,
        phrase: bool,
        spans: FieldSpans,
        scope: Scope,
    ) -> QueryResult<Filter> {
        if name.eq_ignore_ascii_case("has") {
            return self.has(op, value, spans, scope);
        }
        if name.eq_ignore_ascii_case("in") {
            return self.saved_search(value, spans.clause(), scope);
        }
        if name.eq_ignore_ascii_case("sort") {
            return Err(QueryError::new(
                "`sort:` is not a filter",
                spans.clause(),
                "put sort keys in the query's sort list",
            ));
        }
        let bound = self.lookup(name, spans.field, scope)?;
        let test = self.test(&bound, op, value, phrase, spans)?;
        Ok(routed(bound.route, Filter::Field(bound.field, test)))
    }

    /// `has:X` ≡ `X:*` for email, phone, url, address and a related object's fields, and
    /// `X > 0` for the counts.
    fn has(&mut self, op: Op, value: &str, spans: FieldSpans, scope: Scope) -> QueryResult<Filter> {
        if op != Op::Matches {
            return Err(QueryError::new(
                format!("`has` takes `:`, not `{op}`"),
                spans.op,
                "write `has:email` or `has:calls`",
            ));
        }
        let lower = value.to_lowercase();
        if scope == Scope::Lead {
            if let Some(counted) = fields::count(&lower) {
                return Ok(Filter::Field(Field::Count(counted), Test::Number(Comparison::Gt, 0.0)));
            }
            if !fields::HAS_AT_LEAD.contains(&lower.as_str()) {
                let takes = "`has:` takes email, phone, url, address or a count (contacts, calls, emails, notes, \
                             sms, meetings, chats, opportunities, tasks)";
                let candidates = fields::HAS_AT_LEAD
                    .iter()
                    .chain(fields::names(Scope::Lead).iter().filter(|n| fields::count(n).is_some()))
                    .copied();
                let message = match text::nearest(value, candidates).first() {
                    Some(near) => format!("`has:{value}` is not something a lead has; did you mean `has:{near}`?"),
                    None => format!("`has:{value}` is not something a lead has"),
                };
                return Err(QueryError::new(message, spans.value, takes));
            }
        }
        let bound = self.lookup(value, spans.value, scope)?;
        Ok(routed(bound.route, Filter::Field(bound.field, Test::Present)))
    }

    fn sort_key(&self, key: &SortKey) -> QueryResult<filter::SortKey> {
        let lower = key.field.to_lowercase();
        let sortable = "sortable fields are name, description, url, id, status, created, updated, the counts \
                        (calls, …), the activity dates (last_called, …) and custom fields with one value";
        let field = match lower.as_str() {
            "name" => SortField::Name,
            "description" => SortField::Description,
            "url" => SortField::Url,
            "id" => SortField::Id,
            "status" => SortField::Status,
            "created" => SortField::Created,
            "updated" => SortField::Updated,
            _ => {
                let bound = self.lookup(&key.field, key.span, Scope::Lead)?;
                match bound.field {
                    Field::Count(counted) => SortField::Count(counted),
                    Field::Latest(latest) => SortField::Latest(latest),
                    Field::Custom(custom) => {
                        let multiple = self
                            .ctx
                            .custom_fields
                            .iter()
                            .any(|f| f.id == custom.id && f.accepts_multiple_values);
                        if multiple {
                            return Err(QueryError::new(
                                format!("`{}` can hold several values and cannot be sorted on", key.field),
                                key.span,
                                sortable,
                            ));
                        }
                        SortField::Custom(custom)
                    }
                    field => {
                        let several = bound.route != Route::Own
                            || matches!(
                                field,
                                Field::AddressCity
                                    | Field::AddressState
                                    | Field::AddressZipcode
                                    | Field::AddressCountry
                                    | Field::AddressAny
                            );
                        let why = if several { ": a lead may have several" } else { "" };
                        return Err(QueryError::new(
                            format!("`{}` cannot be sorted on{why}", key.field),
                            key.span,
                            sortable,
                        ));
                    }
                }
            }
        };
        Ok(filter::SortKey {
            field,
            direction: key.direction,
        })
    }
}

/// Applies a lead-level field's route: `email:x` is `contact(email:x)`.
fn routed(route: Route, filter: Filter) -> Filter {
    match route {
        Route::Own => filter,
        Route::Any(kind) => Filter::Related(kind, Box::new(filter)),
        Route::IncompleteTask => Filter::Related(
            ObjectType::Task,
            Box::new(Filter::And(vec![
                Filter::Field(Field::TaskDone, Test::Bool(false)),
                filter,
            ])),
        ),
    }
}
