//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP.

use super::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
