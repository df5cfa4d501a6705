//! The spec and the parser agree: every example query that `docs/query-language.md`
//! presents as valid parses with [`parse`], and every one it calls an error does not.
//! The examples are read from the spec itself, so an example added to it is checked too.
//!
//! # Which text of the spec is an example
//!
//! * Every line of a code block (indented, or fenced with no info string, `text` or
//!   `query`) is a valid query.
//! * In a table whose first column is headed `form` (the clause table of §2), every code
//!   span of that column is a query.
//! * Elsewhere a code span is a query when it has the shape of a clause: an operator with
//!   something on both sides (`calls > 3`, `sort:-name`, `"custom.Lead Source":web`), a
//!   group or related clause (`(a or b)`, `note(pricing)`, `call()`), or a `-` before a
//!   clause, a group or a phrase (`-"new york"`). A field name, a value, an operator or a
//!   keyword on its own (`status`, `"this week"`, `<=`, `not`) is not a query.
//! * A span holding `…` or `...` is a schematic form (`contact( … )`), not a query; nor is
//!   JSON (`{…}`), nor a span in a heading.
//! * A query in a sentence that says "is an error" or "are errors" (sentences end at `.`,
//!   `;`, `?` or `!`; a table cell is its own text) must NOT parse. In such a sentence a span
//!   of symbols that are none of the language's own (`&`: "a word with no letter or digit")
//!   is a query too.
//!
//! The parser alone is checked (no schema): errors that need one (an unknown field or
//! status, a date word used as a date) are not parse errors and are tested elsewhere.

use std::fs;
use std::path::Path;

use rapport_query::{parse, print};

/// The spec has 54 valid examples today: far fewer means the extraction no longer finds them
/// (the spec changed how it writes examples), not that they all pass.
const MIN_VALID: usize = 40;
/// `()`, `call()`, `&` today.
const MIN_ERRORS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Valid,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Example {
    /// 1-based line of the spec where the example starts.
    line: usize,
    query: String,
    expect: Expect,
}

#[test]
fn the_examples_of_the_spec_parse_as_it_says() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/query-language.md");
    let markdown = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let examples = examples(&markdown);
    let valid = examples.iter().filter(|e| e.expect == Expect::Valid).count();
    let errors = examples.len() - valid;
    let listing = || {
        examples
            .iter()
            .map(|e| format!("  line {}: {:?} `{}`", e.line, e.expect, e.query))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        valid >= MIN_VALID && errors >= MIN_ERRORS,
        "docs/query-language.md: found only {valid} valid examples (at least {MIN_VALID} expected) and {errors} \
         invalid ones (at least {MIN_ERRORS} expected); has the way the spec writes examples changed? Found:\n{}",
        listing()
    );

    let failures: Vec<String> = examples
        .iter()
        .filter_map(|example| match (example.expect, parse(&example.query)) {
            (Expect::Valid, Ok(_)) | (Expect::Error, Err(_)) => None,
            (Expect::Valid, Err(error)) => Some(format!(
                "  line {}: `{}` is valid in the spec, but the parser says: {} (bytes {}..{}; hint: {})",
                example.line, example.query, error.message, error.span.0, error.span.1, error.hint
            )),
            (Expect::Error, Ok(query)) => Some(format!(
                "  line {}: `{}` is an error in the spec, but the parser accepts it as `{}`",
                example.line,
                example.query,
                print(&query)
            )),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of the {} examples of docs/query-language.md ({valid} valid, {errors} errors) disagree with the \
         parser:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
    println!(
        "{} examples of docs/query-language.md checked: {valid} valid, {errors} errors",
        examples.len()
    );
}

#[test]
fn the_extractor_finds_blocks_table_forms_clauses_and_errors() {
    let markdown = "\
# Title with `a:b`

    status:cold called:never

| form | meaning |
|---|---|
| `john`, `x( … )` | free text; `(c)` is an error |
| `n` | `has:X` ≡ `X:*`, not `X` |

Ops: `:`, `<=`, `not`, `sort:`, `-updated`. A word with no letter (`&`) is an error;
`-x:y` and `p(q
r)` are fine. `()` and `call()` are
  errors. `{\"a\": b}` `t(u …)` ``k`v:w``

```json
{\"not\": \"a query\"}
```
```
y:z
```
";
    use Expect::{Error, Valid};
    let got = examples(markdown);
    let found: Vec<(usize, &str, Expect)> = got.iter().map(|e| (e.line, e.query.as_str(), e.expect)).collect();
    assert_eq!(
        found,
        vec![
            (3, "status:cold called:never", Valid),
            (7, "john", Valid),
            (7, "(c)", Error),
            (8, "n", Valid),
            (8, "has:X", Valid),
            (8, "X:*", Valid),
            (10, "&", Error),
            (11, "-x:y", Valid),
            (11, "p(q r)", Valid),
            (12, "()", Error),
            (12, "call()", Error),
            (13, "k`v:w", Valid),
            (19, "y:z", Valid),
        ]
    );
}

/// The example queries of a Markdown text, in order.
fn examples(markdown: &str) -> Vec<Example> {
    let mut out = Vec::new();
    // The lines of the current paragraph, list item or heading.
    let mut block: Vec<(usize, &str)> = Vec::new();
    // Inside a fenced block: its fence, and whether its lines are queries.
    let mut fence: Option<(String, bool)> = None;
    // The header cells of the current table.
    let mut table_header: Option<Vec<String>> = None;
    let mut after_blank = true;
    let mut in_indented_block = false;

    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if let Some((marker, queries)) = &fence {
            if trimmed.starts_with(marker.as_str()) {
                fence = None;
            } else if *queries && !trimmed.is_empty() {
                out.push(example(number, line.trim(), Expect::Valid));
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            scan_block(&block, false, &mut out);
            block.clear();
            let marker_char = trimmed.chars().next().unwrap_or('`');
            let marker: String = trimmed.chars().take_while(|&c| c == marker_char).collect();
            let info = trimmed[marker.len()..].trim();
            fence = Some((marker, info.is_empty() || info == "text" || info == "query"));
            after_blank = false;
            in_indented_block = false;
            continue;
        }
        if trimmed.is_empty() {
            scan_block(&block, false, &mut out);
            block.clear();
            table_header = None;
            after_blank = true;
            continue;
        }
        let indent: usize = line
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum();
        if indent >= 4 && block.is_empty() && (after_blank || in_indented_block) {
            in_indented_block = true;
            after_blank = false;
            out.push(example(number, line.trim(), Expect::Valid));
            continue;
        }
        in_indented_block = false;
        after_blank = false;

        if trimmed.starts_with('|') {
            scan_block(&block, false, &mut out);
            block.clear();
            let cells = table_cells(trimmed);
            let separator = cells
                .iter()
                .all(|c| !c.trim().is_empty() && c.trim().chars().all(|ch| matches!(ch, '-' | ':')));
            if separator {
                continue;
            }
            match &table_header {
                None => table_header = Some(cells.iter().map(|c| c.trim().to_lowercase()).collect()),
                Some(header) => {
                    let form_column = header.first().is_some_and(|h| h == "form");
                    for (column, cell) in cells.iter().enumerate() {
                        scan_block(&[(number, cell)], form_column && column == 0, &mut out);
                    }
                }
            }
            continue;
        }
        table_header = None;

        let heading = trimmed.starts_with('#');
        if heading || is_list_item(trimmed) {
            scan_block(&block, false, &mut out);
            block.clear();
        }
        // A heading names a section; its code spans are not examples.
        if !heading {
            block.push((number, line));
        }
    }
    scan_block(&block, false, &mut out);
    out
}

fn example(line: usize, query: &str, expect: Expect) -> Example {
    Example {
        line,
        query: query.to_string(),
        expect,
    }
}

fn is_list_item(trimmed: &str) -> bool {
    if trimmed.starts_with("- ") || trimmed.starts_with("* ") || trimmed.starts_with("+ ") {
        return true;
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (trimmed[digits..].starts_with(". ") || trimmed[digits..].starts_with(") "))
}

/// The cells of a table row, split at `|` outside code spans (a `\|` is no split).
fn table_cells(row: &str) -> Vec<&str> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let bytes = row.as_bytes();
    let mut cells = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                i = match closing_run(row, i + run, run) {
                    Some(close) => close + run,
                    None => i + run,
                };
            }
            b'|' => {
                cells.push(&row[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    cells.push(&row[start.min(row.len())..]);
    cells
}

/// The byte offset of the first run of exactly `run` backticks at or after `from`.
fn closing_run(text: &str, from: usize, run: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if len == run {
                return Some(i);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// Reads the code spans of one paragraph, list item, heading or table cell, sentence by
/// sentence, and adds the queries among them to `out`.
fn scan_block(lines: &[(usize, &str)], form_cell: bool, out: &mut Vec<Example>) {
    if lines.is_empty() {
        return;
    }
    let mut text = String::new();
    let mut line_starts = Vec::new();
    for (number, line) in lines {
        if !text.is_empty() {
            text.push('\n');
        }
        line_starts.push((text.len(), *number));
        text.push_str(line);
    }
    let line_at = |offset: usize| {
        line_starts
            .iter()
            .take_while(|(start, _)| *start <= offset)
            .last()
            .map_or(0, |(_, number)| *number)
    };

    let mut sentence_text = String::new();
    let mut sentence_spans: Vec<(usize, String)> = Vec::new();
    let mut finish = |sentence_text: &mut String, sentence_spans: &mut Vec<(usize, String)>| {
        let lower = sentence_text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let error = ["is an error", "are an error", "are errors"]
            .iter()
            .any(|p| lower.contains(p));
        for (line, span) in sentence_spans.drain(..) {
            if let Some(expect) = classify(&span, form_cell, error) {
                out.push(example(line, span.trim(), expect));
            }
        }
        sentence_text.clear();
    };

    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if let Some(close) = closing_run(&text, i + run, run) {
                sentence_spans.push((line_at(i), code_span_content(&text[i + run..close])));
                i = close + run;
            } else {
                sentence_text.push_str(&text[i..i + run]);
                i += run;
            }
            continue;
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        sentence_text.push(c);
        i += c.len_utf8();
        let ends_sentence =
            matches!(c, '.' | ';' | '?' | '!') && text[i..].chars().next().is_none_or(char::is_whitespace);
        if ends_sentence {
            finish(&mut sentence_text, &mut sentence_spans);
        }
    }
    finish(&mut sentence_text, &mut sentence_spans);
}

/// A code span's text as CommonMark reads it: line ends are spaces, and one space is
/// stripped from each end when both ends have one.
fn code_span_content(raw: &str) -> String {
    let content = raw.replace('\n', " ");
    if content.len() >= 2 && content.starts_with(' ') && content.ends_with(' ') && !content.trim().is_empty() {
        content[1..content.len() - 1].to_string()
    } else {
        content
    }
}

/// Whether a code span is a query, and what the spec says of it.
fn classify(span: &str, form_cell: bool, error_sentence: bool) -> Option<Expect> {
    let query = span.trim();
    let schematic = query.contains('…') || query.contains("...");
    let json = query.starts_with('{') || query.starts_with('[');
    if query.is_empty() || schematic || json {
        return None;
    }
    let is_query = form_cell || clause_shaped(query) || (error_sentence && stray_symbols(query));
    match (is_query, error_sentence) {
        (false, _) => None,
        (true, false) => Some(Expect::Valid),
        (true, true) => Some(Expect::Error),
    }
}

fn clause_shaped(query: &str) -> bool {
    match query.strip_prefix('-') {
        Some(rest) => phrase(rest) || group(rest) || has_operator(rest),
        None => group(query) || has_operator(query),
    }
}

fn phrase(text: &str) -> bool {
    text.len() >= 2 && text.starts_with('"') && text.ends_with('"')
}

/// `( … )` or `kind( … )`.
fn group(text: &str) -> bool {
    match text.find('(') {
        Some(open) => text.ends_with(')') && text[..open].chars().all(|c| c.is_ascii_alphabetic()),
        None => false,
    }
}

/// An operator outside quotes with something before and after it.
fn has_operator(text: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ':' | '=' | '<' | '>' | '!' if !quoted => {
                let after = text[i..].trim_start_matches([':', '=', '<', '>', '!']);
                return !text[..i].trim().is_empty() && !after.trim().is_empty();
            }
            _ => {}
        }
    }
    false
}

/// Symbols only, none of them the language's own (`&`, `%`): what §9 calls a word with no
/// letter or digit.
fn stray_symbols(text: &str) -> bool {
    const LANGUAGE: &[&str] = &["-", "(", ")", "\"", ":", "=", "!=", "<", "<=", ">", ">=", "!", "*"];
    !text.chars().any(char::is_alphanumeric) && !text.chars().any(char::is_whitespace) && !LANGUAGE.contains(&text)
}
