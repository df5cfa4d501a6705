//! The lead search language (`shared/QUERY_LANGUAGE.md`): parser, printer and JSON form,
//! the binder that checks a query against an organization's schema and resolves its
//! dates, a plain-words explanation, and the reference evaluator that defines what every
//! query means. No I/O: the caller supplies the schema, `now` and the time zone.
//!
//! # Pipeline
//!
//! ```text
//! "status:cold called:never"  --parse-->  Query (AST, = JSON form)  --resolve(ctx)-->  ResolvedQuery
//!            ^                                   |                                        |
//!            +-------------- print --------------+                     matches / search / explain
//! ```
//!
//! * [`parse`] reads the string form; [`Query::from_json`] the JSON form (§7). Both give
//!   the same [`Query`], and `parse(&print(&q)) == q`.
//! * [`resolve`] checks field names, statuses, users, custom fields and Smart Views
//!   against a [`SearchContext`] and resolves every date to concrete UTC bounds.
//! * [`matches()`], [`search`] and [`sort_leads`] evaluate a [`ResolvedQuery`] on plain
//!   [`Lead`] data; the search index must agree with them.
//! * [`explain`] says what a resolved query does, in plain words.
//! * [`complete`] suggests what may be typed at the cursor of the search bar.
//! * [`Query::saved_search_refs`] lists the Smart Views a query includes with `in:` (as
//!   written: ids or names), so that a view another one uses is not deleted.
//!
//! Every failure is a [`QueryError`] with a byte span into the query string and a hint.
//! No input makes the parser panic; a property test holds it to that.
//!
//! # Limits
//!
//! One search must not take unbounded time or memory (security issue #16: a 1 MB JSON
//! query of 20,000 words took 23 s and 6.6 GB). A query is measured before any of it
//! runs, by [`parse`] and [`Query::from_json`], and again by [`resolve`] with the Smart
//! Views it includes expanded; what is past a limit is a [`QueryError`] (400) whose span
//! points at the first thing past it and whose hint names the limit:
//!
//! | Limit | Bound | Why |
//! |---|---|---|
//! | [`MAX_QUERY_CHARS`] | 10,000 characters of query string; a JSON tree must print within it | parse work; every accepted tree prints to a string that parses |
//! | [`MAX_VALUE_CHARS`] | 256 characters per word, phrase, value, field name, Smart View or sort key | the index looks a word up with an automaton of about 1,000 states, one per byte: a word of ~1,000 characters silently matched nothing |
//! | [`MAX_WORD_BYTES`] | 768 bytes per folded word (256 three-byte letters) | the same automaton, for letters of four bytes or that fold into several |
//! | [`MAX_CLAUSES`] | 200 clauses: each word or phrase, field clause, `has:`, `in:` and `kind(…)` | each clause costs the index a few hundred KB per search |
//! | [`MAX_TERMS`] | 1,000 words in all values (`"new york"` is two) | each word is a term looked up in every segment |
//! | [`MAX_DEPTH`] | 32 levels of parentheses, `not`s and related clauses | the parser and every walk of the tree recurse |
//! | [`MAX_EXPANDED_DEPTH`] | 128 levels of the tree with Smart Views expanded (one query string is at most ~100) | views that include views each add their nesting |
//!
//! Smart Views count in the query that includes them (`in:` is one clause, and the view's
//! clauses and words are added), and at most 64 are expanded per query. "Did you mean"
//! hints compare strings of at most [`MAX_EDIT_CHARS`] (64) characters, in three rows of
//! the shorter one: a longer value gets no suggestion rather than a quadratic table.
//!
//! # Autocomplete
//!
//! `complete(input, cursor, ctx)` reads the query up to the byte offset `cursor` with a
//! forgiving tokenizer (an open quote or a `call(` without its `)` are normal while
//! typing) and returns a [`Completion`]: the byte span to replace (the whole token at
//! the cursor) and at most [`MAX_SUGGESTIONS`] [`Suggestion`]s, each with its text
//! (quoted when it must be), a [`SuggestionKind`] and a short detail; all serialize to
//! JSON in snake_case. In a field name it offers the fields of the scope that start with
//! what is typed (folded), inserted with `:` (`status:`, `"custom.Lead Source":`), and
//! `has:`, `in:`, `sort:`, `call(` and the keywords where they may stand; inside a related
//! clause, that object's fields. After `field OP` it offers the values of the field's
//! type: statuses, users by email (`me` first), choices, date words, `yes`/`no`, Smart
//! Views, sortable fields. Every suggestion parses and resolves (a Smart View only as well
//! as its own query does). A custom field is suggested as `"custom.Lead Source"`: the
//! form `custom."Lead Source"` is two tokens to the parser, so it is completed to the
//! quoted whole.
//!
//! # Fuzzing
//!
//! `crates/rapport-query/fuzz` is a cargo-fuzz project (its own workspace, so the main
//! build ignores it) with one target, `parse`: arbitrary bytes, read as UTF-8 lossily,
//! must not make [`parse`] or [`complete`] panic, an error's span must lie within the
//! input, and a parsed query must satisfy `parse(print(q)) == q` and survive the JSON
//! form. `fuzz/corpus/parse/` holds a seed corpus of one query per file. With a nightly
//! toolchain and `cargo install cargo-fuzz`:
//!
//! ```text
//! cd crates/rapport-query
//! cargo +nightly fuzz run parse                      # until stopped; crashes go to fuzz/artifacts/
//! cargo +nightly fuzz run parse -- -max_total_time=60
//! ```
//!
//! CI runs on stable and does not fuzz: the proptests in `tests/it/props.rs` hold the
//! same properties over random near-queries and arbitrary Unicode (thousands of cases
//! per run, failures recorded in `tests/proptest-regressions/`), and
//! `tests/it/complete.rs` holds [`complete`] to never panicking at any cursor.
//!
//! # Grammar
//!
//! The parser is written by hand (recursive descent over a small lexer) rather than with
//! a parser-combinator crate: the language is a handful of rules, and nearly all the work
//! is in the errors, which need the exact span and the user's own words at each point.
//!
//! ```text
//! query    = [ or_expr ] ;                      (* empty: every lead *)
//! or_expr  = and_expr { "or" and_expr } ;
//! and_expr = unary { [ "and" ] unary } ;        (* juxtaposition is "and" *)
//! unary    = ( "not" | "-" ) unary | primary ;  (* "-" touches what it negates *)
//! primary  = "(" or_expr ")"
//!          | KIND "(" or_expr ")"               (* KIND touches "(" *)
//!          | term [ op value ] ;                (* free text, or a field clause *)
//! term     = WORD | QUOTED ;                    (* field names are case-insensitive *)
//! value    = WORD | QUOTED ;
//! op       = ":" | "=" | "!=" | "<" | "<=" | ">" | ">=" ;
//! KIND     = "contact" | "call" | "email" | "note" | "sms" | "meeting" | "chat"
//!          | "opportunity" | "task" ;           (* case-insensitive *)
//! WORD     = { char - ( white space | "(" | ")" | '"' | ":" | "<" | ">" | "=" | "!" ) }- ;
//! QUOTED   = '"' { char - ( '"' | "\" ) | '\"' | "\\" | "\" } '"' ;
//! ```
//!
//! `and`, `or` and `not` are keywords where a clause may start (any case); after an
//! operator they are ordinary values (`name:not`). Three field names are special:
//! `sort:field` / `sort:-field` (only at the top level, never inside parentheses, a
//! related clause or after `not`/`-`), `in:view` (a Smart View, by id or name) and
//! `has:X`. Parentheses, related clauses and negations nest at most [`MAX_DEPTH`] deep.
//!
//! # Decisions where the specification is silent
//!
//! * **Quoted field values.** A field node carries `"phrase": true` when its value was
//!   quoted (`name:"acme"` is the whole word, `name:acme` a prefix); the key is left out
//!   when false, so unquoted clauses have exactly the §7 shape.
//! * **JSON form.** [`Query::from_json`] brings a tree to the parser's form so that it
//!   prints and parses back unchanged: one-child `and`/`or` are unwrapped, empty ones
//!   (other than the whole query) are refused, a value that cannot be written bare (it
//!   has a space, starts a text with `-`, is a keyword) is a phrase, and a field node
//!   named `in` is a saved search. JSON errors have the span `(0, 0)`. Nesting is
//!   limited as the parser counts it on the printed string (parentheses, `not`s,
//!   related clauses), so the JSON of every query string is accepted. An empty quoted
//!   field name (`"":x`) or Smart View (`in:""`) is a parse error, as it is in JSON.
//! * **Words before `(`.** A word touching `(` that is not a related kind (`acme(`) is
//!   an error naming the nearest kind, rather than silently text and a group. A lone `-`
//!   followed by a space is an error. A `\` before anything but `"` or `\` is itself.
//! * **`sort:` and `or`.** A top-level `sort:` may stand on either side of an `or`
//!   (`a or b sort:name`); it does not count as a clause, so `a or sort:name` is an error.
//! * **Related clauses.** Each activity takes `date` and `user`; besides §3, `call(note)`,
//!   `email(body)` and `chat(user)` exist. `email(…)` sees drafts too (so that
//!   `email(status:draft)` works), and so does free text; `emails`, `last_emailed` and
//!   `last_activity` do not. `email(opened:never)` is allowed: an open is an activity
//!   date. Free text inside `opportunity(…)` searches its note and text custom fields,
//!   inside `task(…)` its text, inside `contact(…)` its name, title, emails, phones and
//!   text custom fields. `has:X` inside a related clause takes any field of the object.
//! * **Custom fields** at the lead level are the lead's; a contact's or opportunity's are
//!   reached inside `contact(…)` / `opportunity(…)` (the error says so). A name matches
//!   when the folded names are equal; two fields with that name are an error naming ids.
//!   Contacts' custom fields are not lead-level free text.
//! * **Lead fields over several objects** (`email`, `opportunity_value`, `task_due`) are
//!   resolved as related clauses (`contact(email:…)`), which is what §9's "any value"
//!   rule means; a lead without any such object satisfies no comparison.
//! * **Dates.** `!=` with a date is "outside that range". On date-only values (custom
//!   date fields, `opportunity_close`, a task due as a day) a relative age stands for the
//!   local calendar day it falls on, so `opportunity_close > "2 weeks ago"` is "a day
//!   before the day two weeks ago". `"a day ago"` and `"an hour ago"` mean one unit. The
//!   time-zone offset is hours east of UTC and must be within ±24.
//! * **Values.** Labels (statuses, choices, `direction`) match their folded form whole,
//!   not as a prefix. `id` takes `:` only, like text. Numbers are plain decimals (`1,000`
//!   and `1e3` are refused with a hint). Users match by email or full name, folded; two
//!   users with one name are an error asking for the email. An empty string is no value.
//! * **Relevance.** With free text and no `sort:`, leads that match more of the query's
//!   free-text terms (those not under `not`, including those inside related clauses) come
//!   first, then the default order (`-updated`), then the id.
//! * **Sorting.** A user custom field sorts by the user's folded full name. Smart Views
//!   may include one another at most 64 times per query.

mod ast;
mod complete;
mod dates;
mod error;
mod eval;
mod explain;
pub mod facts;
mod fields;
mod filter;
mod json;
mod lead;
mod lexer;
mod limits;
mod order;
mod parser;
mod print;
mod resolve;
mod schema;
mod span;
mod text;

pub use ast::{Direction, FieldSpans, Node, ObjectType, Op, Query, SortKey, MAX_DEPTH};
pub use complete::{complete, Completion, Suggestion, SuggestionKind, MAX_SUGGESTIONS};
pub use error::{QueryError, QueryResult};
pub use eval::matches;
pub use explain::explain;
pub use filter::{
    Comparison, Counted, CustomFieldRef, DateRange, Field, Filter, Latest, Order, ResolvedQuery, SortField,
    SortKey as ResolvedSortKey, Test,
};
pub use lead::{
    Activity, ActivityKind, Address, Contact, CustomValue, CustomValues, Due, Lead, Opportunity, PreparedText, Task,
};
pub use limits::{MAX_CLAUSES, MAX_EXPANDED_DEPTH, MAX_QUERY_CHARS, MAX_TERMS, MAX_VALUE_CHARS, MAX_WORD_BYTES};
pub use order::{relevance, search, sort_leads};
pub use parser::parse;
pub use print::print;
pub use resolve::resolve;
pub use schema::{
    CustomField, CustomFieldObject, CustomFieldType, OpportunityStatus, SavedView, SearchContext, StatusType, User,
};
pub use span::Span;
pub use text::{fold, words, TextPattern, MAX_EDIT_CHARS};
