//! No module cycles inside any crate (issue #17).
//!
//! A module is a top-level module of a crate: the first path component under `src/`
//! (`src/a.rs`, `src/a/mod.rs` and `src/a/b.rs` are all `a`); `lib.rs`/`main.rs`, the root
//! that ties the modules together, is not one. Module `a` uses `b` when its code names
//! `crate::b…`, lists `b` in a `crate::{…}` group (at any depth of nesting), or reaches `b`
//! with `super::…`. Comments, string literals and `#[cfg(test)] mod …` (inline or in their
//! own file) do not count: tests may reach anywhere. Names the root re-exports
//! (`crate::Thing`) are not modules and do not count either.
//!
//! A cycle means neither module can be understood, tested or moved without the other:
//! the shared piece belongs in a module of its own that both use.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[test]
fn no_crate_has_a_module_cycle() {
    let crates_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&crates_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", crates_dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|dir| dir.join("src").is_dir())
        .collect();
    crates.sort();
    assert!(!crates.is_empty(), "no crates under {}", crates_dir.display());
    let mut report = String::new();
    for dir in &crates {
        let name = dir.file_name().expect("a crate directory name").to_string_lossy();
        let files = source_files(&dir.join("src"));
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let graph = ModuleGraph::of(&borrowed);
        for cycle in graph.cycles() {
            report.push_str(&graph.describe(&name, &cycle));
        }
    }
    assert!(
        report.is_empty(),
        "module cycles (a module uses a sibling that, directly or not, uses it back); move the \
         shared piece to a module of its own:\n\n{report}"
    );
}

/// The detector on small made-up crates: each case's files (paths under `src/`) and the
/// cycles it must report, each as its sorted modules.
#[test]
fn the_detector_finds_exactly_the_cycles() {
    struct Case {
        name: &'static str,
        files: &'static [(&'static str, &'static str)],
        cycles: &'static [&'static [&'static str]],
    }
    let cases = [
        Case {
            name: "two modules using each other",
            files: &[
                ("lib.rs", "mod a; mod b; pub use a::A;"),
                ("a.rs", "use crate::b::B; pub struct A;"),
                ("b.rs", "pub struct B(crate::a::A);"),
            ],
            cycles: &[&["a", "b"]],
        },
        Case {
            name: "a chain is no cycle, and the root does not count",
            files: &[
                ("lib.rs", "use crate::a::A; use crate::c::C;"),
                ("a.rs", "use crate::b::B; use crate::Thing;"),
                ("b.rs", "use crate::c::C;"),
                ("c.rs", "use crate::Thing; pub struct C;"),
            ],
            cycles: &[],
        },
        Case {
            name: "nested groups, nested directories and a longer loop",
            files: &[
                ("main.rs", "mod a; mod b; mod c; mod d;"),
                ("a/mod.rs", "mod inner;"),
                ("a/inner.rs", "use crate::{d, b::{self, x::{Y, Z}}};"),
                ("b.rs", "fn f() -> crate :: c :: C { C }"),
                ("c/mod.rs", "mod deep;"),
                ("c/deep/mod.rs", "use crate::{\n    a::inner::Thing as Other,\n};"),
                ("d.rs", "pub struct D;"),
            ],
            cycles: &[&["a", "b", "c"]],
        },
        Case {
            name: "super reaches a sibling only past the top module",
            files: &[
                ("lib.rs", ""),
                ("a.rs", "use super::b::B;"),
                ("b/mod.rs", "mod one; mod two;"),
                ("b/one.rs", "use super::two::Two; use super::super::c;"),
                ("b/two.rs", "use super::one::{self as first};"),
                ("c.rs", "use super::{a::A, self as me};"),
                ("d.rs", ""),
            ],
            cycles: &[&["a", "b", "c"]],
        },
        Case {
            name: "comments, strings and test modules do not count",
            files: &[
                ("lib.rs", ""),
                (
                    "a.rs",
                    "// crate::b::B\n/* crate::b /* nested */ crate::b */\n/// [`crate::b`]\n\
                     const S: &str = \"crate::b::B\"; const R: &str = r#\"crate::b\"\"#;\n\
                     const Q: char = '\"'; fn f<'x>(s: &'x str) -> &'x str { s }\n\
                     #[cfg(test)]\nmod tests {\n    use crate::b::B;\n    fn g() { let _ = \"}\"; }\n}\n\
                     #[cfg(test)]\n#[allow(dead_code)]\npub(crate) mod more;\n",
                ),
                ("a/more.rs", "use crate::b::B;"),
                ("b.rs", "use crate::a::{self};"),
            ],
            cycles: &[],
        },
        Case {
            name: "code after a test module still counts",
            files: &[
                ("lib.rs", ""),
                ("a.rs", "#[cfg(test)]\nmod tests { use super::*; }\n\nuse crate::b::B;"),
                ("b.rs", "pub(crate) fn f() { crate::a::g() }"),
            ],
            cycles: &[&["a", "b"]],
        },
    ];
    for case in &cases {
        let graph = ModuleGraph::of(case.files);
        let found: Vec<Vec<String>> = graph.cycles();
        let expected: Vec<Vec<String>> = case
            .cycles
            .iter()
            .map(|c| c.iter().map(|m| m.to_string()).collect())
            .collect();
        assert_eq!(
            found,
            expected,
            "{}: edges {:?}",
            case.name,
            graph.edges.keys().collect::<Vec<_>>()
        );
    }
}

/// Every `.rs` file under `src`, as (path relative to `src`, with `/`, and its text).
fn source_files(src: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).expect("under src");
                let relative: Vec<String> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                let text =
                    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.push((relative.join("/"), text));
            }
        }
    }
    out.sort();
    out
}

/// Where an edge was seen first: the file under `src/`, the line, and that line.
#[derive(Debug, Clone)]
struct Evidence {
    file: String,
    line: usize,
    text: String,
}

/// The top-level modules of one crate and which use which.
#[derive(Debug, Default)]
struct ModuleGraph {
    modules: BTreeSet<String>,
    /// `(from, to)` → the first place `from` names `to`.
    edges: BTreeMap<(String, String), Evidence>,
}

impl ModuleGraph {
    /// The graph of one crate's files, given as (path under `src/`, text).
    fn of(files: &[(&str, &str)]) -> ModuleGraph {
        let mut graph = ModuleGraph::default();
        let mut parsed = Vec::new();
        let mut test_only: Vec<Vec<String>> = Vec::new();
        for (path, text) in files {
            let Some(module_path) = module_path(path) else {
                continue;
            };
            if let Some(top) = module_path.first() {
                graph.modules.insert(top.clone());
            }
            let (tokens, test_children) = code_tokens(text);
            test_only.extend(test_children.into_iter().map(|child| {
                let mut p = module_path.clone();
                p.push(child);
                p
            }));
            parsed.push((*path, *text, module_path, tokens));
        }
        for (path, text, module_path, tokens) in parsed {
            let Some(top) = module_path.first() else {
                continue; // The root.
            };
            if test_only.iter().any(|t| module_path.starts_with(t)) {
                continue;
            }
            for (target, line) in references(&tokens, &module_path) {
                if &target == top || !graph.modules.contains(&target) {
                    continue;
                }
                graph.edges.entry((top.clone(), target)).or_insert_with(|| Evidence {
                    file: path.to_string(),
                    line,
                    text: text
                        .lines()
                        .nth(line - 1)
                        .unwrap_or("")
                        .trim()
                        .chars()
                        .take(110)
                        .collect(),
                });
            }
        }
        graph
    }

    fn targets<'g>(&'g self, from: &'g str) -> impl Iterator<Item = &'g str> + 'g {
        self.edges
            .keys()
            .filter(move |(f, _)| f == from)
            .map(|(_, to)| to.as_str())
    }

    /// The strongly connected components of more than one module, each sorted, in order.
    fn cycles(&self) -> Vec<Vec<String>> {
        // Tarjan's algorithm; a crate has a few dozen modules, so recursion is fine.
        struct State<'g> {
            graph: &'g ModuleGraph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            found: Vec<Vec<String>>,
        }
        fn visit<'g>(s: &mut State<'g>, v: &'g str) {
            let i = s.index.len();
            s.index.insert(v, i);
            s.low.insert(v, i);
            s.stack.push(v);
            s.on_stack.insert(v);
            for w in s.graph.targets(v) {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
            if s.low[v] == s.index[v] {
                let mut component = Vec::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    s.found.push(component);
                }
            }
        }
        let mut state = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for module in &self.modules {
            if !state.index.contains_key(module.as_str()) {
                visit(&mut state, module);
            }
        }
        let mut found = state.found;
        found.sort();
        found
    }

    /// A shortest loop from the cycle's first module back to it, for the message.
    fn a_loop(&self, cycle: &[String]) -> Vec<String> {
        let start = cycle[0].as_str();
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            for next in self.targets(at).filter(|t| cycle.iter().any(|c| c == t)) {
                if next == start {
                    let mut path = vec![start.to_string()];
                    let mut back = at;
                    while back != start {
                        path.push(back.to_string());
                        back = came_from[back];
                    }
                    path.push(start.to_string());
                    path.reverse();
                    return path;
                }
                if !came_from.contains_key(next) {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        unreachable!("a strongly connected component has a loop through each of its modules")
    }

    fn describe(&self, crate_name: &str, cycle: &[String]) -> String {
        let mut out = format!(
            "{crate_name}: {} (e.g. {})\n",
            cycle.join(", "),
            self.a_loop(cycle).join(" -> ")
        );
        for ((from, to), seen) in &self.edges {
            if cycle.contains(from) && cycle.contains(to) {
                let _ = writeln!(
                    out,
                    "    {from} -> {to}    src/{}:{}: {}",
                    seen.file, seen.line, seen.text
                );
            }
        }
        out.push('\n');
        out
    }
}

/// The module path of a file under `src/` (`a/b.rs` and `a/b/mod.rs` are `[a, b]`; the
/// root is `[]`), or `None` for a file that is not part of the crate's module tree
/// (`src/bin/…`, each its own crate).
fn module_path(path: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && parts[0] == "bin" {
        return None;
    }
    let mut module: Vec<String> = parts.iter().map(|p| p.trim_end_matches(".rs").to_string()).collect();
    if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
        module.clear();
    }
    if module.last().is_some_and(|m| m == "mod") {
        module.pop();
    }
    Some(module)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of a file's code, with their lines, without comments, literals and
/// `#[cfg(test)] mod …` blocks; and the names of the `#[cfg(test)] mod name;` declared
/// here (their files are test code).
fn code_tokens(text: &str) -> (Vec<(Tok, usize)>, Vec<String>) {
    let tokens = tokenize(&strip_comments_and_literals(text));
    let mut out = Vec::with_capacity(tokens.len());
    let mut test_children = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some(after_attrs) = cfg_test_attribute(&tokens, i) {
            // Further attributes, visibility, then `mod name` with a block or `;`.
            let mut j = after_attrs;
            while let Some(next) = attribute_end(&tokens, j) {
                j = next;
            }
            if is_ident(&tokens, j, "pub") {
                j += 1;
                if tokens.get(j).map(|t| &t.0) == Some(&Tok::Punct('(')) {
                    j = matching(&tokens, j, '(', ')');
                }
            }
            if is_ident(&tokens, j, "mod") {
                if let Some((Tok::Ident(name), _)) = tokens.get(j + 1) {
                    match tokens.get(j + 2).map(|t| &t.0) {
                        Some(Tok::Punct('{')) => {
                            i = matching(&tokens, j + 2, '{', '}');
                            continue;
                        }
                        Some(Tok::Punct(';')) => {
                            test_children.push(name.clone());
                            i = j + 3;
                            continue;
                        }
                        _ => {}
                    }
                }
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    (out, test_children)
}

fn is_ident(tokens: &[(Tok, usize)], i: usize, word: &str) -> bool {
    matches!(tokens.get(i), Some((Tok::Ident(w), _)) if w == word)
}

/// After `#[cfg(test)]` starting at `i`: the index past it.
fn cfg_test_attribute(tokens: &[(Tok, usize)], i: usize) -> Option<usize> {
    let expected = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let window = tokens.get(i..i + expected.len())?;
    window
        .iter()
        .zip(&expected)
        .all(|((t, _), e)| t == e)
        .then_some(i + expected.len())
}

/// After an attribute `#[…]` starting at `i`: the index past it.
fn attribute_end(tokens: &[(Tok, usize)], i: usize) -> Option<usize> {
    if tokens.get(i)?.0 == Tok::Punct('#') && tokens.get(i + 1)?.0 == Tok::Punct('[') {
        Some(matching(tokens, i + 1, '[', ']'))
    } else {
        None
    }
}

/// The index past the bracket that closes the one at `open`.
fn matching(tokens: &[(Tok, usize)], open: usize, left: char, right: char) -> usize {
    let mut depth = 0usize;
    for (k, (t, _)) in tokens.iter().enumerate().skip(open) {
        if *t == Tok::Punct(left) {
            depth += 1;
        } else if *t == Tok::Punct(right) {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    tokens.len()
}

/// The top-level modules the code names, each with its line, given the module path of
/// the file (which `super` is relative to).
fn references(tokens: &[(Tok, usize)], here: &[String]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let ident = |k: usize| match tokens.get(k) {
        Some((Tok::Ident(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let sep = |k: usize| matches!(tokens.get(k), Some((Tok::PathSep, _)));
    for (i, (token, line)) in tokens.iter().enumerate() {
        let Tok::Ident(first) = token else { continue };
        // A path's start only: `super` after `::` is part of a path already seen.
        if (first != "crate" && first != "super") || (i > 0 && sep(i - 1)) || !sep(i + 1) {
            continue;
        }
        // Where the path starts: the root, or the parent of this file's module and up
        // by each further leading `super`.
        let mut path: Vec<String> = here.to_vec();
        let mut leading_super = first == "super";
        if first == "crate" {
            path.clear();
        } else if path.pop().is_none() {
            continue; // Past the root: not a path of this crate.
        }
        let mut k = i + 1;
        let mut group = None;
        while sep(k) {
            k += 1;
            match (ident(k), tokens.get(k).map(|t| &t.0)) {
                (Some("super"), _) if leading_super => {
                    if path.pop().is_none() {
                        break;
                    }
                }
                (Some(name), _) => {
                    leading_super = false;
                    path.push(name.to_string());
                }
                (None, Some(Tok::Punct('{'))) => {
                    group = Some(k);
                    break;
                }
                _ => break,
            }
            k += 1;
        }
        match (path.first(), group) {
            (Some(top), _) => out.push((top.clone(), *line)),
            // `crate::{…}`: each item of the group names its own module.
            (None, Some(open)) => group_heads(tokens, open, &mut out),
            (None, None) => {}
        }
    }
    out
}

/// The first name of each item of the `{…}` group at `open`, nested groups included
/// (`{a::X, {b, c}}` names `a`, `b` and `c`); `self` names no module.
fn group_heads(tokens: &[(Tok, usize)], open: usize, out: &mut Vec<(String, usize)>) {
    let close = matching(tokens, open, '{', '}') - 1;
    let mut k = open + 1;
    let mut item_start = true;
    while k < close {
        match &tokens[k].0 {
            Tok::Punct('{') if item_start => {
                group_heads(tokens, k, out);
                k = matching(tokens, k, '{', '}');
                item_start = false;
                continue;
            }
            Tok::Punct('{') => {
                // The rest of an item's path (`a::{X, Y}`): not further modules.
                k = matching(tokens, k, '{', '}');
                continue;
            }
            Tok::Punct(',') => item_start = true,
            Tok::Ident(name) if item_start => {
                if name != "self" {
                    out.push((name.clone(), tokens[k].1));
                }
                item_start = false;
            }
            _ => item_start = false,
        }
        k += 1;
    }
}

/// Identifiers, `::` and single punctuation characters, with their lines.
fn tokenize(code: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The code with comments (nested block comments too), string and character literals
/// blanked out, newlines kept so that lines still count.
fn strip_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_at(&chars, i) {
            // A raw string: `r"…"`, `r#"…"#`, and their `b` and `c` forms.
            out.push(' ');
            i += 1;
            for _ in 0..hashes + 1 {
                out.push(' ');
                i += 1;
            }
            while i < chars.len() {
                if chars[i] == '"' && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#')) {
                    for _ in 0..hashes + 1 {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: `'\n'`, `'\''`, `'\u{1f}'`.
            out.push_str("  ");
            i += 2;
            if i < chars.len() {
                out.push(' ');
                i += 1;
            }
            while i < chars.len() && chars[i] != '\'' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A character literal `'x'`; otherwise `'` starts a lifetime or a label.
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// When a raw string opens at `i` (its `r`, not inside an identifier but for a `b` or `c`
/// prefix): the number of `#` around it. `r#ident` is a raw identifier, not a string.
fn raw_string_at(chars: &[char], i: usize) -> Option<usize> {
    let ident_char = |k: usize| chars[k].is_alphanumeric() || chars[k] == '_';
    if chars[i] != 'r' {
        return None;
    }
    let standalone = i == 0 || !ident_char(i - 1);
    let prefixed = i >= 1 && matches!(chars[i - 1], 'b' | 'c') && (i == 1 || !ident_char(i - 2));
    if !standalone && !prefixed {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}
