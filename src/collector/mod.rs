//! Per registered name: fetch every replica, keep every count, detect change, decide liveness
//! and schedule, and hand changed profiles to the report engine.

pub mod accum_file;
pub mod accumulate;
mod diff_reports;
pub mod liveness;
mod reports;
pub mod schedule;
mod service;

pub use service::{
    Collector, CollectorError, CollectorEvent, NameEntry, TargetRuntime, address_ip,
};
