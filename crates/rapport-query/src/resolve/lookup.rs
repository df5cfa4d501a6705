//! Field names: built-in and custom fields in their scope, and the "did you mean" of
//! an unknown one.

use super::{Binder, BoundField};
use crate::ast::ObjectType;
use crate::error::{list_or, ticked, QueryError, QueryResult};
use crate::fields::{self, Builtin, LabelSet, Route, Scope, ValueType};
use crate::filter::{CustomFieldRef, Field};
use crate::print::is_bare_field;
use crate::schema::{CustomField, CustomFieldObject, CustomFieldType};
use crate::span::Span;
use crate::text::{self, fold};

impl Binder<'_> {
    pub(super) fn lookup(&self, name: &str, span: Span, scope: Scope) -> QueryResult<BoundField> {
        if let Some(custom_name) = strip_custom_prefix(name) {
            return self.lookup_custom(name, custom_name, span, scope);
        }
        let lower = name.to_lowercase();
        if let Some(Builtin {
            field,
            value_type,
            route,
        }) = fields::builtin(scope, &lower)
        {
            return Ok(BoundField {
                written: name.to_string(),
                field,
                value_type,
                route,
            });
        }
        Err(self.unknown_field(name, &lower, span, scope))
    }

    fn lookup_custom(&self, written: &str, custom_name: &str, span: Span, scope: Scope) -> QueryResult<BoundField> {
        let object = match scope {
            Scope::Lead => CustomFieldObject::Lead,
            Scope::Object(ObjectType::Contact) => CustomFieldObject::Contact,
            Scope::Object(ObjectType::Opportunity) => CustomFieldObject::Opportunity,
            Scope::Object(kind) => {
                return Err(QueryError::new(
                    format!("{} has no custom fields", kind.with_article()),
                    span,
                    format!(
                        "custom fields belong to leads, contacts and opportunities: write `custom.…` outside `{}(…)`, \
                         or inside `contact(…)` or `opportunity(…)`",
                        kind.name()
                    ),
                ))
            }
        };
        let of_object = |o: CustomFieldObject| self.ctx.custom_fields.iter().filter(move |f| f.object == o);
        let def = match of_object(object).find(|f| f.id == custom_name) {
            Some(def) => def,
            None => {
                let named: Vec<&CustomField> = of_object(object)
                    .filter(|f| fold(&f.name) == fold(custom_name))
                    .collect();
                match named.as_slice() {
                    [def] => *def,
                    [] => return Err(self.unknown_custom_field(written, custom_name, span, object)),
                    several => {
                        let ids: Vec<&str> = several.iter().map(|f| f.id.as_str()).collect();
                        return Err(QueryError::new(
                            format!(
                                "two custom fields are named `{custom_name}`: {}",
                                list_or(&ticked(&ids, 10))
                            ),
                            span,
                            format!("use the id: `{}:…`", field_text(&format!("custom.{}", ids[0]))),
                        ));
                    }
                }
            }
        };
        let value_type = match def.value_type {
            CustomFieldType::Text => ValueType::Text,
            CustomFieldType::Number => ValueType::Number,
            CustomFieldType::Date | CustomFieldType::Datetime => ValueType::Date { activity: false },
            CustomFieldType::Choices => ValueType::Label(LabelSet::Choices(def.choices.clone())),
            CustomFieldType::User => ValueType::User,
        };
        Ok(BoundField {
            written: written.to_string(),
            field: Field::Custom(CustomFieldRef {
                id: def.id.clone(),
                name: def.name.clone(),
                value_type: def.value_type,
            }),
            value_type,
            route: Route::Own,
        })
    }

    fn unknown_custom_field(
        &self,
        written: &str,
        custom_name: &str,
        span: Span,
        object: CustomFieldObject,
    ) -> QueryError {
        let names: Vec<&str> = self
            .ctx
            .custom_fields
            .iter()
            .filter(|f| f.object == object)
            .map(|f| f.name.as_str())
            .collect();
        let message = match text::nearest(custom_name, names.iter().copied()).as_slice() {
            [] => format!("unknown custom field `{written}`"),
            near => format!(
                "unknown custom field `{written}`; did you mean {}?",
                list_or(&ticked(near.iter().map(|n| field_text(&format!("custom.{n}"))), 3))
            ),
        };
        let elsewhere = self
            .ctx
            .custom_fields
            .iter()
            .find(|f| f.object != object && (f.id == custom_name || fold(&f.name) == fold(custom_name)));
        let hint = match elsewhere {
            Some(f) if f.object == CustomFieldObject::Lead => {
                format!("`{}` is a lead field: use it outside related clauses", f.name)
            }
            Some(f) => {
                let kind = if f.object == CustomFieldObject::Contact {
                    "contact"
                } else {
                    "opportunity"
                };
                format!(
                    "`{}` is a {kind} field: write `{kind}({}:…)`",
                    f.name,
                    field_text(written)
                )
            }
            None if names.is_empty() => "there are no custom fields here".to_string(),
            None => format!("custom fields here are {}", list_or(&ticked(&names, 10))),
        };
        QueryError::new(message, span, hint)
    }

    fn unknown_field(&self, written: &str, lower: &str, span: Span, scope: Scope) -> QueryError {
        let object = match scope {
            Scope::Lead => Some(CustomFieldObject::Lead),
            Scope::Object(ObjectType::Contact) => Some(CustomFieldObject::Contact),
            Scope::Object(ObjectType::Opportunity) => Some(CustomFieldObject::Opportunity),
            Scope::Object(_) => None,
        };
        let custom: Vec<String> = self
            .ctx
            .custom_fields
            .iter()
            .filter(|f| Some(f.object) == object)
            .map(|f| format!("custom.{}", f.name))
            .collect();
        // A custom field named without its `custom.` prefix is the likeliest intent.
        let bare_custom: Vec<&str> = self
            .ctx
            .custom_fields
            .iter()
            .filter(|f| Some(f.object) == object && text::words(&f.name) == text::words(written))
            .map(|f| f.name.as_str())
            .collect();
        let mut candidates: Vec<&str> = fields::names(scope).to_vec();
        candidates.push("has");
        if scope == Scope::Lead {
            candidates.extend(["in", "sort"]);
        }
        candidates.extend(custom.iter().map(String::as_str));
        let near: Vec<String> = if bare_custom.is_empty() {
            text::nearest(written, candidates).into_iter().map(field_text).collect()
        } else {
            bare_custom.iter().map(|n| field_text(&format!("custom.{n}"))).collect()
        };
        let message = match near.as_slice() {
            [] => format!("unknown field `{written}`"),
            near => format!("unknown field `{written}`; did you mean {}?", list_or(&ticked(near, 3))),
        };
        let kinds = fields::kinds_with_field(lower);
        let hint = match (scope, kinds.first()) {
            (Scope::Lead, Some(kind)) => {
                format!(
                    "`{lower}` is a field of {}: write `{}({lower} …)`",
                    kind.with_article(),
                    kind.name()
                )
            }
            (Scope::Object(kind), _) => format!(
                "the fields of {} are {}",
                kind.with_article(),
                list_or(&ticked(fields::names(scope), 20))
            ),
            _ => "to search for it as text, put the whole clause in quotes".to_string(),
        };
        QueryError::new(message, span, hint)
    }
}

fn strip_custom_prefix(name: &str) -> Option<&str> {
    let prefix = name.get(..7)?;
    prefix.eq_ignore_ascii_case("custom.").then(|| &name[7..])
}

/// How a field name is written in a query: quoted when it must be.
pub(super) fn field_text(name: &str) -> String {
    if is_bare_field(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
