//! goc-adapter: coverage of Go services under system test, collected from goc agents.

pub mod api;
pub mod collector;
pub mod controller;
pub mod fsutil;
pub mod goc;
pub mod incremental;
pub mod metrics;
pub mod profile;
pub mod report;
pub mod source;
pub mod store;
pub mod syntax;
pub mod target;
