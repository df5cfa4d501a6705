//! Values: what each kind of field accepts after each operator, as a [`Test`].

use super::{field_text, Binder, BoundField};
use crate::ast::{FieldSpans, Op};
use crate::error::{list_or, ticked, QueryError, QueryResult};
use crate::fields::{LabelSet, ValueType};
use crate::filter::{Comparison, Test};
use crate::print::{is_bare_value, value_text};
use crate::schema::StatusType;
use crate::span::Span;
use crate::text::{self, fold, TextPattern};

impl Binder<'_> {
    pub(super) fn test(
        &self,
        bound: &BoundField,
        op: Op,
        value: &str,
        phrase: bool,
        spans: FieldSpans,
    ) -> QueryResult<Test> {
        let name = &bound.written;
        let value_span = spans.value;
        if value == "*" && !phrase {
            if op != Op::Matches {
                return Err(QueryError::new(
                    format!("`*` works only with `:`, not `{op}`"),
                    spans.op,
                    format!("write `{}:*` for any value", field_text(name)),
                ));
            }
            return Ok(Test::Present);
        }
        if let ValueType::Date { activity } = bound.value_type {
            if value.trim().eq_ignore_ascii_case("never") {
                if !activity {
                    return Err(QueryError::new(
                        format!("`:never` applies only to activity dates, not to `{name}`"),
                        value_span,
                        "activity dates are last_called, last_emailed, email_opened, last_note, last_sms, \
                         last_meeting, last_chat and last_activity",
                    ));
                }
                if op != Op::Matches {
                    return Err(QueryError::new(
                        format!("`never` works only with `:`, not `{op}`"),
                        spans.op,
                        format!("write `{}:never`", field_text(name)),
                    ));
                }
                return Ok(Test::Missing);
            }
        }
        let matching_only = |kind: &str| {
            if op == Op::Matches {
                return Ok(());
            }
            Err(QueryError::new(
                format!("`{name}` is {kind} and takes only `:`, not `{op}`"),
                spans.op,
                format!("write `{0}:…`; to leave matches out, write `-{0}:…`", field_text(name)),
            ))
        };
        let equality_only = || match op {
            Op::Matches | Op::Eq => Ok(false),
            Op::Ne => Ok(true),
            _ => Err(QueryError::new(
                format!("`{name}` cannot be compared with `{op}`"),
                spans.op,
                format!("use `{0}:…` or `{0} != …`", field_text(name)),
            )),
        };
        let is = |key: String, negated: bool| if negated { Test::IsNot(key) } else { Test::Is(key) };
        Ok(match &bound.value_type {
            ValueType::Text => {
                matching_only("a text field")?;
                match TextPattern::new(value, phrase) {
                    Some(pattern) => Test::Words(pattern),
                    None => return Err(no_words(value, value_span)),
                }
            }
            ValueType::Phone => {
                matching_only("a phone field")?;
                let digits = text::digits(value);
                if digits.is_empty() {
                    return Err(QueryError::new(
                        format!("`{name}` takes digits, not `{value}`"),
                        value_span,
                        "phone numbers match by digits: `phone:415`",
                    ));
                }
                Test::Digits(digits)
            }
            ValueType::Id => {
                matching_only("an id")?;
                Test::Is(value.to_string())
            }
            ValueType::Label(set) => {
                let negated = equality_only()?;
                is(self.label(name, set, value, value_span)?, negated)
            }
            ValueType::OpenLabel => {
                let negated = equality_only()?;
                is(fold(value.trim()), negated)
            }
            ValueType::User => {
                let negated = equality_only()?;
                is(self.user(name, value, value_span)?, negated)
            }
            ValueType::Number | ValueType::Count | ValueType::Money => {
                let Some(number) = parse_number(value) else {
                    let hint = match bound.value_type {
                        ValueType::Money => "amounts are in currency units and may have cents: `>= 1234.50`",
                        _ => "write digits, without separators: `calls > 3`",
                    };
                    return Err(QueryError::new(
                        format!("`{name}` takes a number, not `{value}`"),
                        value_span,
                        hint,
                    ));
                };
                Test::Number(comparison(op), number)
            }
            ValueType::Date { .. } => {
                let (range, outside) = self.clock.resolve(op, value).map_err(|e| {
                    QueryError::new(format!("`{name}` takes a date: {}", e.message), value_span, e.hint)
                })?;
                if outside {
                    Test::OutOfRange(range)
                } else {
                    Test::InRange(range)
                }
            }
            ValueType::Bool => {
                let negated = equality_only()?;
                let yes = match value.trim().to_lowercase().as_str() {
                    "yes" | "true" => true,
                    "no" | "false" => false,
                    _ => {
                        return Err(QueryError::new(
                            format!("`{name}` takes yes or no, not `{value}`"),
                            value_span,
                            format!("write `{}:yes` or `{0}:no`", field_text(name)),
                        ))
                    }
                };
                Test::Bool(yes != negated)
            }
        })
    }

    /// The folded label, if it is one of the set.
    fn label(&self, name: &str, set: &LabelSet, value: &str, span: Span) -> QueryResult<String> {
        let (labels, what): (Vec<&str>, String) = match set {
            LabelSet::LeadStatuses => (
                self.ctx.lead_statuses.iter().map(String::as_str).collect(),
                "statuses".to_string(),
            ),
            LabelSet::OpportunityStatuses => (
                self.ctx.opportunity_statuses.iter().map(|s| s.label.as_str()).collect(),
                "opportunity statuses".to_string(),
            ),
            LabelSet::StatusTypes => (
                StatusType::ALL.map(StatusType::name).to_vec(),
                "status types".to_string(),
            ),
            LabelSet::Choices(choices) => (
                choices.iter().map(String::as_str).collect(),
                format!("choices of `{name}`"),
            ),
        };
        let wanted = fold(value.trim());
        if labels.iter().any(|l| fold(l) == wanted) {
            return Ok(wanted);
        }
        let singular = match set {
            LabelSet::LeadStatuses => "status".to_string(),
            LabelSet::OpportunityStatuses => "opportunity status".to_string(),
            LabelSet::StatusTypes => "status type".to_string(),
            LabelSet::Choices(_) => format!("choice for `{name}`"),
        };
        let message = if labels.is_empty() {
            format!("unknown {singular} `{value}`; there are no {what}")
        } else {
            format!(
                "unknown {singular} `{value}`; valid {what} are {}",
                list_or(&ticked(&labels, 20))
            )
        };
        let field = field_text(name);
        let hint = match (text::nearest(value, labels.iter().copied()).first(), labels.as_slice()) {
            (Some(near), _) => format!("did you mean `{near}`?"),
            (None, []) => format!("leave this clause out, or write `{field}:*` for any value"),
            (None, [first, ..]) => {
                // Show the quoting on a label that needs it, when there is one.
                match labels.iter().find(|l| !is_bare_value(l)) {
                    Some(quoted) => format!(
                        "write one of the {what}, quoted when it has a space: `{field}:{}`",
                        value_text(quoted)
                    ),
                    None => format!("write one of the {what}: `{field}:{}`", value_text(first)),
                }
            }
        };
        Err(QueryError::new(message, span, hint))
    }

    /// A user id: `me`, an email, or a full name (folded).
    fn user(&self, name: &str, value: &str, span: Span) -> QueryResult<String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("me") {
            return self
                .ctx
                .current_user_id
                .clone()
                .ok_or_else(|| QueryError::new("`me` is not known here", span, "name the user by email or full name"));
        }
        let wanted = fold(value);
        let found: Vec<_> = self
            .ctx
            .users
            .iter()
            .filter(|u| fold(&u.email) == wanted || fold(&u.full_name) == wanted)
            .collect();
        match found.as_slice() {
            [user] => Ok(user.id.clone()),
            [] => {
                let mut names = vec!["me"];
                names.extend(self.ctx.users.iter().map(|u| u.full_name.as_str()));
                let message = format!(
                    "unknown user `{value}`; valid users are {}",
                    list_or(&ticked(&names, 20))
                );
                let candidates = self
                    .ctx
                    .users
                    .iter()
                    .flat_map(|u| [u.full_name.as_str(), u.email.as_str()]);
                let hint = match text::nearest(value, candidates).first() {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => {
                        let example = self.ctx.users.first().map_or("me", |u| u.full_name.as_str());
                        format!(
                            "write `me`, a user's email or full name, quoted when it has a space: `{}:{}`",
                            field_text(name),
                            value_text(example)
                        )
                    }
                };
                Err(QueryError::new(message, span, hint))
            }
            several => {
                let emails: Vec<&str> = several.iter().map(|u| u.email.as_str()).collect();
                Err(QueryError::new(
                    format!("several users are named `{value}`"),
                    span,
                    format!("use an email: {}", list_or(&ticked(&emails, 10))),
                ))
            }
        }
    }
}

pub(super) fn no_words(value: &str, span: Span) -> QueryError {
    let message = if value.trim().is_empty() {
        "empty quotes".to_string()
    } else {
        format!("`{value}` has no letter or digit to search for")
    };
    QueryError::new(message, span, "search for words: letters or digits")
}

fn comparison(op: Op) -> Comparison {
    match op {
        Op::Matches | Op::Eq => Comparison::Eq,
        Op::Ne => Comparison::Ne,
        Op::Lt => Comparison::Lt,
        Op::Le => Comparison::Le,
        Op::Gt => Comparison::Gt,
        Op::Ge => Comparison::Ge,
    }
}

/// A plain decimal: `3`, `-1`, `1234.50`. No exponents, separators, `inf` or `nan`.
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    let well_formed = !whole.is_empty() && digits_only(whole) && digits_only(fraction) && !unsigned.ends_with('.');
    if !well_formed {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(parse_number("3"), Some(3.0));
        assert_eq!(parse_number("-1"), Some(-1.0));
        assert_eq!(parse_number("1234.50"), Some(1234.5));
        for bad in ["", "-", "1e5", "inf", "NaN", "1,000", "1.", ".5", "many", "1.2.3"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
