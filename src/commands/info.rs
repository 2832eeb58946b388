//! INFO: every section with Redis's field names.

use super::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
