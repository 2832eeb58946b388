//! Native lock primitives beyond Redis 7.2: DELIFEQ (Valkey 9), DELEX (Redis 8.4 / Valkey 9.2)
//! and the IFEQ / IFNE conditions of SET, so a lock can be released or refreshed atomically
//! without Lua.

use super::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
