//! Strategy files: rules that turn a market snapshot into buy candidates.
//!
//! [`selector`] says which items a rule wants, [`file`] reads and compiles a strategy file,
//! [`decide`] is the pure decision function.

pub mod decide;
pub mod file;
pub mod selector;
