//! The crate's tests, in one binary: data-driven `check` helpers per area.

mod complete;
mod dates;
mod errors;
mod eval;
mod fixture;
mod limits;
mod order;
mod parse;
mod props;
mod round_trip;
