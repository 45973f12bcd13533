//! The `CoverageTarget` resource: one spec type for the YAML file (`serve`) and the CRD
//! (`controller`), with defaults and validation turning it into a [`Target`] the collector uses.

mod names;
mod spec;
mod validate;

pub use names::{DEFAULT_NAME_PATTERN, NameParts, NamePattern, validate_path_segment};
pub use spec::*;
pub use validate::{PodMonitor, Schedule, Target, TargetError, load_file, parse_documents};
