//! Autocomplete for the search bar: what may be typed at the cursor, from the language
//! and the organization's schema.
//!
//! A query being typed is rarely whole (an open quote, a `call(` without its `)`), so it
//! is read here with a forgiving tokenizer of its own rather than the parser. Only three
//! things matter: the token at the cursor, whether it is a field name or the value after
//! `field OP`, and which related clause (if any) the cursor stands in.

use serde::Serialize;

use crate::ast::{ObjectType, Op};
use crate::fields::{self, LabelSet, Route, Scope, ValueType};
use crate::lexer::is_word_char;
use crate::print::{is_bare_field, is_bare_value};
use crate::schema::{CustomField, CustomFieldObject, CustomFieldType, SearchContext, StatusType};
use crate::text::fold;

/// [`complete`] returns at most this many suggestions.
pub const MAX_SUGGESTIONS: usize = 20;

/// What [`complete`] proposes: put the text of one of `suggestions` in place of the
/// bytes `replace` of the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// `(start, end)` in bytes: the whole token being completed (also the part after the
    /// cursor), or an empty span at the cursor when a new token starts there. It always
    /// contains the cursor and lies on character boundaries.
    pub replace: (usize, usize),
    /// Best first; at most [`MAX_SUGGESTIONS`]; empty when nothing fits.
    pub suggestions: Vec<Suggestion>,
}

/// One entry of the menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// What to insert, quoted when it must be (`"Bad Fit"`, `"custom.Lead Source":`).
    pub text: String,
    pub kind: SuggestionKind,
    /// A few words for the menu: the field's type, a user's full name, a view's query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a suggestion is, for the menu's icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// A built-in field (`status:`), `has:`, `in:`, `sort:`, or a field as a value of
    /// `has:` and `sort:`.
    Field,
    /// A value of a fixed set: a date word, `yes`, `active`, `*`.
    Value,
    /// A lead or opportunity status label.
    Status,
    /// `me` or a user's email.
    User,
    CustomField,
    /// A value of a choices custom field.
    Choice,
    /// A related clause: `call(`.
    Kind,
    /// `and`, `or`, `not`.
    Keyword,
    /// A Smart View, after `in:`.
    View,
}

/// Suggests what may go at byte offset `cursor` of `input` (clamped to the input and
/// rounded down to a character boundary; no input makes it panic).
///
/// * In a field name (a word with no operator after it yet), the fields of the scope
///   that start with what is typed, folded: at the lead level §3's fields and aliases,
///   `has:`, `in:`, `sort:` (top level only), the related clauses as `call(`, the lead's
///   custom fields as `custom.Name` (`"custom.Lead Source"` when it needs quotes), and
///   the keywords; inside `call(…)` that object's fields. Fields are inserted with `:`
///   (every field takes it) unless an operator already follows. An empty word at the
///   lead level gets the commonest fields.
/// * In the value after `field OP`, the values the field takes: statuses, opportunity
///   statuses or status types, `me` and users (by email), choices, date words (and
///   `never` for activity dates), `yes`/`no`, `has:` targets, Smart Views for `in:`,
///   sortable fields and their `-` forms for `sort:`, and `*` (any value).
pub fn complete(input: &str, cursor: usize, ctx: &SearchContext) -> Completion {
    let mut cursor = cursor.min(input.len());
    while !input.is_char_boundary(cursor) {
        cursor -= 1;
    }
    let mut tokens = lex(&input[..cursor]);
    let current = match tokens.last() {
        Some(t) if t.end == cursor && matches!(t.tok, Tok::Word(_) | Tok::Quoted { .. }) => tokens.pop(),
        _ => None,
    };
    let after = |at: usize| at + word_len(&input[at..]);
    let (mut start, end, mut prefix, quoted_current) = match current {
        Some(Token {
            tok: Tok::Word(word),
            start,
            ..
        }) => (start, after(cursor), word, false),
        Some(Token {
            tok: Tok::Quoted { value, closed },
            start,
            ..
        }) => {
            let end = if closed { cursor } else { quoted(input, start).1 };
            (start, end, value, true)
        }
        _ => (cursor, after(cursor), String::new(), false),
    };

    let mut groups: Vec<Option<ObjectType>> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        match token.tok {
            Tok::Open => {
                let kind = i
                    .checked_sub(1)
                    .map(|p| &tokens[p])
                    .filter(|p| p.end == token.start)
                    .and_then(|p| match &p.tok {
                        Tok::Word(w) => ObjectType::from_name(w.trim_start_matches('-')),
                        _ => None,
                    });
                groups.push(kind);
            }
            Tok::Close => {
                groups.pop();
            }
            _ => {}
        }
    }
    let scope = groups.iter().rev().find_map(|g| *g).map_or(Scope::Lead, Scope::Object);
    let top_level = groups.is_empty();

    // In a value: `field OP ▮`.
    if let Some(Token { tok: Tok::Op(op), .. }) = tokens.last() {
        let field = match tokens.len().checked_sub(2).map(|i| &tokens[i].tok) {
            Some(Tok::Word(w)) => Some(w.trim_start_matches('-')),
            Some(Tok::Quoted { value, .. }) => Some(value.as_str()),
            _ => None,
        };
        let mut out = Candidates::new(&prefix);
        if let Some(field) = field.filter(|f| !f.is_empty()) {
            values(&mut out, field, *op, scope, top_level, ctx);
        }
        return Completion {
            replace: (start, end),
            suggestions: out.finish(),
        };
    }

    // In a field name. `custom."Lead Source"`: a word touching a quoted string is read
    // as one name, so that the suggestion replaces both.
    let mut merged = false;
    if quoted_current {
        if let Some(Token {
            tok: Tok::Word(word),
            start: word_start,
            end: word_end,
        }) = tokens.last()
        {
            if *word_end == start && !word.trim_start_matches('-').is_empty() {
                prefix = format!("{word}{prefix}");
                start = *word_start;
                merged = true;
                tokens.pop();
            }
        }
    }
    let mut negated = false;
    if !quoted_current || merged {
        let stripped = prefix.trim_start_matches('-');
        let dashes = prefix.len() - stripped.len();
        if dashes > 0 {
            negated = true;
            start += dashes;
            prefix = stripped.to_string();
        }
    }
    let previous = match tokens.last() {
        Some(Token { tok: Tok::Word(w), .. }) if !w.is_empty() && w.chars().all(|c| c == '-') => {
            negated = true;
            Previous::Operator
        }
        Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case("not") => {
            negated = true;
            Previous::Operator
        }
        Some(Token { tok: Tok::Word(w), .. }) if is_keyword(w) => Previous::Operator,
        Some(Token {
            tok: Tok::Word(_) | Tok::Quoted { .. } | Tok::Close,
            ..
        }) => Previous::Clause,
        _ => Previous::Operator,
    };
    let rest = &input[end..];
    let place = Place {
        scope,
        top_level,
        negated,
        after_clause: previous == Previous::Clause,
        op_follows: rest.trim_start().starts_with([':', '=', '<', '>', '!']),
        paren_follows: rest.starts_with('('),
    };
    let mut out = Candidates::new(&prefix);
    field_names(&mut out, &place, ctx);
    Completion {
        replace: (start, end),
        suggestions: out.finish(),
    }
}

// ---------------------------------------------------------------------------------------
// The forgiving tokenizer: like `lexer`, but an open quote runs to the end and a lone `!`
// is an operator.

#[derive(Debug)]
enum Tok {
    Word(String),
    Quoted { value: String, closed: bool },
    Open,
    Close,
    Op(Op),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        let start = i;
        i += c.len_utf8();
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ':' => Tok::Op(Op::Matches),
            '=' => Tok::Op(Op::Eq),
            '<' | '>' | '!' => {
                let eq = s[i..].starts_with('=');
                if eq {
                    i += 1;
                }
                Tok::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => Op::Ne,
                })
            }
            '"' => {
                let (value, end, closed) = quoted(s, start);
                i = end;
                Tok::Quoted { value, closed }
            }
            _ => {
                i = start + word_len(&s[start..]).max(c.len_utf8());
                Tok::Word(s[start..i].to_string())
            }
        };
        tokens.push(Token { tok, start, end: i });
    }
    tokens
}

/// The quoted string whose `"` is at `start`: its content, where it ends (after the
/// closing quote, or at the end of `s`) and whether it is closed.
fn quoted(s: &str, start: usize) -> (String, usize, bool) {
    let body = start + 1;
    let mut value = String::new();
    let mut chars = s[body..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, body + i + 1, true),
            '\\' => match chars.next_if(|&(_, n)| n == '"' || n == '\\') {
                Some((_, escaped)) => value.push(escaped),
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    (value, s.len(), false)
}

/// The length of the word that starts `s` (0 when it does not start with one).
fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(s.len(), |(i, _)| i)
}

fn is_keyword(word: &str) -> bool {
    ["and", "or", "not"].iter().any(|k| k.eq_ignore_ascii_case(word))
}

// ---------------------------------------------------------------------------------------
// Collecting suggestions.

/// What comes before the field name being typed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Previous {
    /// Nothing, `(`, `and`, `or`, `not` or `-`: a clause starts here.
    Operator,
    /// A clause: `and` / `or` may come next.
    Clause,
}

struct Place {
    scope: Scope,
    top_level: bool,
    negated: bool,
    after_clause: bool,
    /// An operator follows the word: insert field names without `:`.
    op_follows: bool,
    /// A `(` touches the word: insert related kinds without `(`.
    paren_follows: bool,
}

/// Suggestions whose keys start with the folded prefix; those with a key equal to it
/// come first, the others keep the order they were added in.
struct Candidates {
    prefix: String,
    items: Vec<(bool, Suggestion)>,
}

impl Candidates {
    fn new(prefix: &str) -> Candidates {
        Candidates {
            prefix: fold(prefix),
            items: Vec::new(),
        }
    }

    fn add(&mut self, keys: &[&str], text: String, kind: SuggestionKind, detail: Option<String>) {
        let keys: Vec<String> = keys.iter().map(|k| fold(k)).collect();
        if !keys.iter().any(|k| k.starts_with(&self.prefix)) {
            return;
        }
        let exact = !self.prefix.is_empty() && keys.contains(&self.prefix);
        self.items.push((exact, Suggestion { text, kind, detail }));
    }

    fn finish(mut self) -> Vec<Suggestion> {
        self.items.sort_by_key(|(exact, _)| !exact);
        let mut out: Vec<Suggestion> = Vec::new();
        for (_, suggestion) in self.items {
            if out.len() == MAX_SUGGESTIONS {
                break;
            }
            if !out.iter().any(|s| s.text == suggestion.text) {
                out.push(suggestion);
            }
        }
        out
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn field_text(name: &str) -> String {
    if is_bare_field(name) {
        name.to_string()
    } else {
        quote(name)
    }
}

fn value_text(value: &str) -> String {
    if is_bare_value(value) {
        value.to_string()
    } else {
        quote(value)
    }
}

/// At the lead level, an empty word gets these, in this order.
const COMMON: &[&str] = &[
    "status",
    "name",
    "email",
    "phone",
    "city",
    "created",
    "updated",
    "created_by",
    "last_activity",
    "last_called",
    "calls",
    "opportunity_status",
    "opportunity_value",
    "has",
    "in",
    "sort",
    "contact(",
    "call(",
    "email(",
    "opportunity(",
];

fn field_names(out: &mut Candidates, place: &Place, ctx: &SearchContext) {
    let colon = if place.op_follows { "" } else { ":" };
    let paren = if place.paren_follows { "" } else { "(" };
    // (name for COMMON, keys to match, suggestion)
    let mut all: Vec<(String, Vec<String>, Suggestion)> = Vec::new();
    let mut push = |id: String, keys: Vec<String>, text: String, kind, detail: Option<String>| {
        all.push((id, keys, Suggestion { text, kind, detail }));
    };
    for name in fields::names(place.scope) {
        let Some(builtin) = fields::builtin(place.scope, name) else {
            continue;
        };
        let mut detail = type_detail(&builtin.value_type).to_string();
        match builtin.route {
            Route::Own => {}
            Route::Any(kind) => detail = format!("{detail} of any {}", kind.name()),
            Route::IncompleteTask => detail = format!("{detail} of any open task"),
        }
        if let Some(full) = alias_of(name) {
            detail = format!("{detail}, same as {full}");
        }
        let text = format!("{name}{colon}");
        push(
            name.to_string(),
            vec![name.to_string()],
            text,
            SuggestionKind::Field,
            Some(detail),
        );
    }
    let mut special = vec![("has", "has a value, or related objects")];
    if place.scope == Scope::Lead {
        special.push(("in", "in a Smart View"));
        if place.top_level && !place.negated {
            special.push(("sort", "order the results"));
        }
    }
    for (name, detail) in special {
        let text = format!("{name}{colon}");
        push(
            name.into(),
            vec![name.into()],
            text,
            SuggestionKind::Field,
            Some(detail.into()),
        );
    }
    if place.scope == Scope::Lead {
        for kind in ObjectType::ALL {
            let name = kind.name();
            let detail = format!("{} for which every inner clause holds", kind.with_article());
            push(
                format!("{name}("),
                vec![name.into()],
                format!("{name}{paren}"),
                SuggestionKind::Kind,
                Some(detail),
            );
        }
    }
    if let Some(object) = custom_object(place.scope) {
        for (written, field) in custom_names(ctx, object) {
            let keys = vec![written.clone(), field.name.clone()];
            let detail = format!("{} custom field", custom_type_name(field.value_type));
            let text = format!("{}{colon}", field_text(&written));
            push(written, keys, text, SuggestionKind::CustomField, Some(detail));
        }
    }
    if !out.prefix.is_empty() {
        if place.after_clause {
            push(
                "and".into(),
                vec!["and".into()],
                "and".into(),
                SuggestionKind::Keyword,
                Some("both".into()),
            );
            push(
                "or".into(),
                vec!["or".into()],
                "or".into(),
                SuggestionKind::Keyword,
                Some("either".into()),
            );
        }
        if !place.negated {
            let detail = Some("leave out what follows".into());
            push(
                "not".into(),
                vec!["not".into()],
                "not".into(),
                SuggestionKind::Keyword,
                detail,
            );
        }
    }
    if place.paren_follows {
        // `con▮tact(`: the word names a related clause.
        all.retain(|(_, _, s)| s.kind == SuggestionKind::Kind);
    }
    if out.prefix.is_empty() && place.scope == Scope::Lead {
        all.retain(|(id, _, _)| COMMON.contains(&id.as_str()));
        all.sort_by_key(|(id, _, _)| COMMON.iter().position(|c| c == id));
    }
    for (_, keys, suggestion) in all {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        out.add(&keys, suggestion.text, suggestion.kind, suggestion.detail);
    }
}

fn alias_of(name: &str) -> Option<&'static str> {
    match name {
        "called" => Some("last_called"),
        "emailed" => Some("last_emailed"),
        "chatted" => Some("last_chat"),
        _ => None,
    }
}

fn type_detail(value_type: &ValueType) -> &'static str {
    match value_type {
        ValueType::Text => "text",
        ValueType::Phone => "phone",
        ValueType::Id => "id",
        ValueType::Label(LabelSet::LeadStatuses) => "lead status",
        ValueType::Label(LabelSet::OpportunityStatuses) => "opportunity status",
        ValueType::Label(LabelSet::StatusTypes) => "active, won or lost",
        ValueType::Label(LabelSet::Choices(_)) => "choice",
        ValueType::OpenLabel => "label",
        ValueType::User => "user",
        ValueType::Number => "number",
        ValueType::Money => "amount",
        ValueType::Count => "count",
        ValueType::Date { activity: true } => "activity date",
        ValueType::Date { activity: false } => "date",
        ValueType::Bool => "yes or no",
    }
}

fn custom_type_name(value_type: CustomFieldType) -> &'static str {
    match value_type {
        CustomFieldType::Text => "text",
        CustomFieldType::Number => "number",
        CustomFieldType::Date => "date",
        CustomFieldType::Datetime => "date and time",
        CustomFieldType::Choices => "choices",
        CustomFieldType::User => "user",
    }
}

/// Whose custom fields a scope sees.
fn custom_object(scope: Scope) -> Option<CustomFieldObject> {
    match scope {
        Scope::Lead => Some(CustomFieldObject::Lead),
        Scope::Object(ObjectType::Contact) => Some(CustomFieldObject::Contact),
        Scope::Object(ObjectType::Opportunity) => Some(CustomFieldObject::Opportunity),
        Scope::Object(_) => None,
    }
}

/// The custom fields of an object as they are written: `custom.` and the name, or the
/// id when another field has the same name.
fn custom_names(ctx: &SearchContext, object: CustomFieldObject) -> Vec<(String, &CustomField)> {
    let of_object: Vec<&CustomField> = ctx.custom_fields.iter().filter(|f| f.object == object).collect();
    of_object
        .iter()
        .map(|field| {
            let shared = of_object
                .iter()
                .filter(|other| fold(&other.name) == fold(&field.name))
                .count()
                > 1;
            let written = if shared {
                format!("custom.{}", field.id)
            } else {
                format!("custom.{}", field.name)
            };
            (written, *field)
        })
        .collect()
}

fn strip_custom_prefix(name: &str) -> Option<&str> {
    let prefix = name.get(..7)?;
    prefix.eq_ignore_ascii_case("custom.").then(|| &name[7..])
}

/// The value type of a field name in a scope, as the binder would find it.
fn value_type(field: &str, scope: Scope, ctx: &SearchContext) -> Option<ValueType> {
    let Some(custom_name) = strip_custom_prefix(field) else {
        return fields::builtin(scope, &field.to_lowercase()).map(|b| b.value_type);
    };
    let object = custom_object(scope)?;
    let of_object = || ctx.custom_fields.iter().filter(|f| f.object == object);
    let def = of_object()
        .find(|f| f.id == custom_name)
        .or_else(|| of_object().find(|f| fold(&f.name) == fold(custom_name)))?;
    Some(match def.value_type {
        CustomFieldType::Text => ValueType::Text,
        CustomFieldType::Number => ValueType::Number,
        CustomFieldType::Date | CustomFieldType::Datetime => ValueType::Date { activity: false },
        CustomFieldType::Choices => ValueType::Label(LabelSet::Choices(def.choices.clone())),
        CustomFieldType::User => ValueType::User,
    })
}

fn values(out: &mut Candidates, field: &str, op: Op, scope: Scope, top_level: bool, ctx: &SearchContext) {
    let matching = op == Op::Matches;
    let lower = field.to_lowercase();
    match lower.as_str() {
        "has" if matching => return has_targets(out, scope, ctx),
        "in" if matching && scope == Scope::Lead => return views(out, ctx),
        "sort" if matching && top_level => return sortable(out, ctx),
        "has" | "in" | "sort" => return,
        _ => {}
    }
    let Some(value_type) = value_type(field, scope, ctx) else {
        return;
    };
    let equality = matches!(op, Op::Matches | Op::Eq | Op::Ne);
    let plain = |out: &mut Candidates, words: &[&str], kind, detail: Option<&str>| {
        for word in words {
            out.add(&[word], value_text(word), kind, detail.map(str::to_string));
        }
    };
    match &value_type {
        ValueType::Label(set) if equality => match set {
            LabelSet::LeadStatuses => {
                for label in &ctx.lead_statuses {
                    out.add(&[label], value_text(label), SuggestionKind::Status, None);
                }
            }
            LabelSet::OpportunityStatuses => {
                for status in &ctx.opportunity_statuses {
                    let detail = Some(status.status_type.name().to_string());
                    out.add(
                        &[&status.label],
                        value_text(&status.label),
                        SuggestionKind::Status,
                        detail,
                    );
                }
            }
            LabelSet::StatusTypes => {
                let types = StatusType::ALL.map(StatusType::name);
                plain(out, &types, SuggestionKind::Value, Some("status type"));
            }
            LabelSet::Choices(choices) => {
                for choice in choices {
                    out.add(&[choice], value_text(choice), SuggestionKind::Choice, None);
                }
            }
        },
        ValueType::OpenLabel if equality => {
            let common: &[&str] = match (scope, lower.as_str()) {
                (Scope::Object(ObjectType::Call | ObjectType::Sms), "direction") => &["inbound", "outbound"],
                (Scope::Object(ObjectType::Email), "direction") => &["incoming", "outgoing"],
                (Scope::Object(ObjectType::Email), "status") => &["inbox", "draft", "scheduled", "outbox", "sent"],
                _ => &[],
            };
            plain(out, common, SuggestionKind::Value, None);
        }
        ValueType::User if equality => users(out, ctx),
        ValueType::Date { activity } => {
            let words = [
                "today",
                "yesterday",
                "this week",
                "last week",
                "this month",
                "last month",
                "this year",
            ];
            plain(out, &words, SuggestionKind::Value, None);
            if *activity && matching {
                plain(out, &["never"], SuggestionKind::Value, Some("no such activity"));
            }
        }
        ValueType::Bool if equality => plain(out, &["yes", "no"], SuggestionKind::Value, None),
        _ => {}
    }
    if matching && !matches!(value_type, ValueType::Count | ValueType::Id) {
        out.add(&["*"], "*".into(), SuggestionKind::Value, Some("any value".into()));
    }
}

fn users(out: &mut Candidates, ctx: &SearchContext) {
    if let Some(me) = &ctx.current_user_id {
        let detail = match ctx.users.iter().find(|u| u.id == *me) {
            Some(user) => format!("you ({})", user.full_name),
            None => "you".to_string(),
        };
        out.add(&["me"], "me".into(), SuggestionKind::User, Some(detail));
    }
    for user in &ctx.users {
        let mut keys = vec![user.email.as_str(), user.full_name.as_str()];
        keys.extend(user.full_name.split_whitespace());
        let text = if user.email.is_empty() {
            value_text(&user.full_name)
        } else {
            value_text(&user.email)
        };
        out.add(&keys, text, SuggestionKind::User, Some(user.full_name.clone()));
    }
}

fn has_targets(out: &mut Candidates, scope: Scope, ctx: &SearchContext) {
    match scope {
        Scope::Lead => {
            for name in fields::HAS_AT_LEAD {
                out.add(
                    &[name],
                    name.to_string(),
                    SuggestionKind::Field,
                    Some(format!("{name}:*")),
                );
            }
            for name in fields::names(Scope::Lead) {
                if fields::count(name).is_some() {
                    out.add(
                        &[name],
                        name.to_string(),
                        SuggestionKind::Field,
                        Some(format!("{name} > 0")),
                    );
                }
            }
        }
        Scope::Object(_) => {
            for name in fields::names(scope) {
                out.add(
                    &[name],
                    name.to_string(),
                    SuggestionKind::Field,
                    Some(format!("{name}:*")),
                );
            }
        }
    }
    // At the lead level `has:` takes only the names above; inside a related clause, any
    // field of the object.
    if let Some(object) = custom_object(scope).filter(|_| scope != Scope::Lead) {
        for (written, field) in custom_names(ctx, object) {
            let detail = Some(format!("{} custom field", custom_type_name(field.value_type)));
            out.add(
                &[&written, &field.name],
                value_text(&written),
                SuggestionKind::CustomField,
                detail,
            );
        }
    }
}

fn views(out: &mut Candidates, ctx: &SearchContext) {
    let views = &ctx.saved_views;
    for view in views {
        let shared = views.iter().filter(|v| fold(&v.name) == fold(&view.name)).count() > 1;
        let (text, detail) = if shared {
            (value_text(&view.id), format!("{}: {}", view.name, view.query))
        } else {
            (value_text(&view.name), view.query.clone())
        };
        out.add(&[&view.name, &view.id], text, SuggestionKind::View, Some(detail));
    }
}

/// Sortable fields, the commonest first; each ascending, then descending.
const SORTABLE: &[&str] = &[
    "created",
    "updated",
    "name",
    "status",
    "last_activity",
    "last_called",
    "last_emailed",
    "email_opened",
    "last_note",
    "last_sms",
    "last_meeting",
    "last_chat",
    "calls",
    "emails",
    "notes",
    "sms",
    "meetings",
    "chats",
    "contacts",
    "opportunities",
    "tasks",
    "id",
    "description",
    "url",
];

fn sortable(out: &mut Candidates, ctx: &SearchContext) {
    // A custom field is also found by its bare name: `sort:-emp` → `-custom.Employees`.
    let both = |out: &mut Candidates, name: &str, also: &str, kind| {
        out.add(&[name, also], value_text(name), kind, Some("ascending".into()));
        let desc = format!("-{name}");
        let desc_also = format!("-{also}");
        out.add(&[&desc, &desc_also], value_text(&desc), kind, Some("descending".into()));
    };
    for name in SORTABLE {
        both(out, name, name, SuggestionKind::Field);
    }
    for (written, field) in custom_names(ctx, CustomFieldObject::Lead) {
        if !field.accepts_multiple_values {
            both(out, &written, &field.name, SuggestionKind::CustomField);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forgiving_lexer_runs_open_quotes_to_the_end() {
        let tokens = lex(r#"a:"b \" c"#);
        assert!(matches!(&tokens[2].tok, Tok::Quoted { value, closed: false } if value == "b \" c"));
        assert_eq!(tokens[2].end, 9);
        let tokens = lex("a ! b");
        assert!(matches!(tokens[1].tok, Tok::Op(Op::Ne)));
    }

    #[test]
    fn every_sortable_name_is_a_lead_field() {
        for name in SORTABLE {
            assert!(fields::builtin(Scope::Lead, name).is_some(), "{name}");
        }
        for name in COMMON
            .iter()
            .filter(|n| !n.ends_with('(') && !["has", "in", "sort"].contains(n))
        {
            assert!(fields::builtin(Scope::Lead, name).is_some(), "{name}");
        }
    }
}
