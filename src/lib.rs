//! goc-adapter: coverage of Go services under system test, collected from goc agents.

pub mod profile;
pub mod report;
pub mod source;
pub mod syntax;
pub mod fsutil;
