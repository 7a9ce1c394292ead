//! Strategy files: rules that turn a market snapshot into buy candidates.
//!
//! [`selector`] says which items a rule wants, [`file`] reads and compiles a strategy file,
//! [`matcher`] compiles a whole strategy set for fast matching, [`snapshot`] holds a market at one
//! instant, [`decide`] is the pure decision function.

pub mod decide;
#[cfg(test)]
mod equivalence;
pub mod file;
pub mod matcher;
pub(crate) mod selector;
pub mod snapshot;
