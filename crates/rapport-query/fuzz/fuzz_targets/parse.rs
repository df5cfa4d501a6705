//! Arbitrary bytes (read as UTF-8, invalid sequences replaced) must never make the
//! parser panic; an error's span must lie within the input on character boundaries and
//! it must have a hint; and whatever parses must print to a string that parses back to
//! the same tree, and survive the JSON form. Autocomplete must not panic at any cursor either.
//!
//! The stable property tests in `tests/it/props.rs` hold the same properties in CI.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_query::{complete, parse, print, Query, SearchContext};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let input: &str = &input;
    match parse(input) {
        Err(e) => {
            let (start, end) = e.span;
            assert!(
                start <= end && end <= input.len() && input.is_char_boundary(start) && input.is_char_boundary(end),
                "error span {:?} outside {input:?}",
                e.span
            );
            assert!(!e.hint.trim().is_empty(), "no hint for {:?} from {input:?}", e.message);
        }
        Ok(query) => {
            let printed = print(&query);
            assert_eq!(
                parse(&printed).as_ref(),
                Ok(&query),
                "printed {printed:?} from {input:?}"
            );
            assert_eq!(
                Query::from_json(&query.to_json()).as_ref(),
                Ok(&query),
                "JSON of {input:?}"
            );
        }
    }
    // A few cursors: the start, the end and one derived from the input.
    let ctx = SearchContext::default();
    for cursor in [0, input.len(), data.first().map_or(0, |b| usize::from(*b))] {
        let completion = complete(input, cursor, &ctx);
        let (start, end) = completion.replace;
        assert!(start <= end && end <= input.len());
    }
});
