//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP: the live configuration seen through Redis's
//! CONFIG container command, with its reply shapes and error texts.

use crate::config::{self, find_option, Mutability, OptionSpec};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::collections::HashMap;

const CONFIG_FLAGS: crate::engine::Flags = ADMIN | NOSCRIPT | LOADING | STALE;
const O_N: &str = "O(N) when N is the number of configuration parameters provided";

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    since: &'static str,
    summary: &'static str,
    complexity: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        flags,
        "server",
        &[],
        since,
        summary,
        complexity,
        run,
    )
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "config",
    arity: -2,
    flags: 0,
    keys: KeySpec::None,
    acl: &[],
    group: "server",
    summary: "A container for server configuration commands.",
    since: "2.0.0",
    complexity: "Depends on subcommand.",
    run: crate::engine::subcommands_only,
    subcommands: &[
        sub(
            "get",
            -3,
            CONFIG_FLAGS,
            "2.0.0",
            "Returns the effective values of configuration parameters.",
            O_N,
            get,
        ),
        sub(
            "set",
            -4,
            CONFIG_FLAGS,
            "2.0.0",
            "Sets configuration parameters in-flight.",
            O_N,
            set,
        ),
        sub(
            "resetstat",
            2,
            CONFIG_FLAGS,
            "2.0.0",
            "Resets the server's statistics.",
            "O(1)",
            resetstat,
        ),
        sub(
            "rewrite",
            2,
            CONFIG_FLAGS,
            "2.8.0",
            "Persists the effective configuration to file.",
            "O(1)",
            rewrite,
        ),
        sub(
            "help",
            2,
            LOADING | STALE,
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
            help,
        ),
    ],
}];

/// CONFIG GET pattern [pattern ...]: a map of every matching option, each reported once under
/// the name it was matched by (an alias asked for is answered under the alias).
fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut pairs = Vec::new();
    for pattern in &argv[2..] {
        for (name, value) in ctx.state.config.matching(pattern) {
            // Redis's match table compares names case-insensitively; the first spelling wins.
            if seen.insert(name.to_ascii_lowercase(), ()).is_none() {
                pairs.push((
                    Reply::bulk(name.into_bytes()),
                    Reply::bulk(value.into_bytes()),
                ));
            }
        }
    }
    Ok(Reply::Map(pairs))
}

/// CONFIG SET name value [name value ...]: all pairs are checked, then all are applied or none.
fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if !argv.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let failed = |name: &str, reason: &str| {
        CommandError::err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
        ))
    };
    let mut changes: Vec<(&'static OptionSpec, Vec<String>)> = Vec::new();
    // The name each option was matched by: Redis reports set failures under it.
    let mut matched: Vec<String> = Vec::new();
    for pair in argv[2..].chunks(2) {
        // Redis formats the name with %s: it ends at the first NUL byte.
        let name_bytes = pair[0].split(|&b| b == 0).next().unwrap_or_default();
        let given = String::from_utf8_lossy(name_bytes).into_owned();
        let found = if name_bytes.len() == pair[0].len() {
            find_option(&given)
        } else {
            None
        };
        let Some(spec) = found else {
            return Err(CommandError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{given}'"
            )));
        };
        match spec.mutability {
            Mutability::Immutable => return Err(failed(&given, "can't set immutable config")),
            Mutability::Protected if !protected_allowed(ctx) => {
                return Err(failed(&given, "can't set protected config"))
            }
            _ => {}
        }
        let entry_name = if spec.name == given.to_ascii_lowercase() {
            spec.name.to_string()
        } else {
            given.to_ascii_lowercase()
        };
        if matched.contains(&entry_name) {
            return Err(failed(&given, "duplicate parameter"));
        }
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let args = if spec.kind.is_multi_arg() {
            // Like Redis's sdssplitlen: an empty value is no words, spaces are not collapsed.
            if value.is_empty() {
                Vec::new()
            } else {
                value.split(' ').map(String::from).collect()
            }
        } else {
            vec![value]
        };
        matched.push(entry_name);
        changes.push((spec, args));
    }
    let previous: Vec<(&'static str, String)> = changes
        .iter()
        .map(|(spec, _)| (spec.name, ctx.state.config.get(spec.name)))
        .collect();
    ctx.state
        .config
        .set_many(&changes)
        .map_err(|(i, reason)| failed(&matched[i], &reason))?;
    // Listeners and TLS: bound or loaded now; on failure every value of this call goes back.
    if let Err((blamed, reason)) = ctx.state.apply_listener_config(&previous) {
        ctx.state.config.restore(&previous);
        let i = changes
            .iter()
            .position(|(spec, _)| spec.name == blamed)
            .unwrap_or(0);
        return Err(failed(&matched[i], reason));
    }
    ctx.state.sync_keyspace_tunables();
    crate::engine::maxmemory::config_changed(ctx.state);
    for (i, (spec, _)) in changes.iter().enumerate() {
        let server = || {
            ctx.state
                .self_arc()
                .map(|s| s as std::sync::Arc<dyn crate::aof::Host>)
        };
        crate::aof::config_changed(&ctx.state.aof, &ctx.state.config, server, spec.name)
            .map_err(|reason| failed(&matched[i], &reason))?;
        crate::acl::config_changed(
            &ctx.state.acl,
            &ctx.state.config,
            &ctx.state.registry,
            spec.name,
        );
    }
    Ok(Reply::Ok)
}

/// `enable-protected-configs`: `yes`, or `local` for loopback clients.
fn protected_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.state.config.get("enable-protected-configs").as_str() {
        "yes" => true,
        "local" => ctx.client.info.addr.is_local(),
        _ => false,
    }
}

/// CONFIG RESETSTAT: server counters, keyspace hit/miss/expiry counters and every command's
/// call statistics.
fn resetstat(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let state = ctx.state;
    state.stats.reset();
    state.keyspace.reset_stats();
    state.acl.reset_stats();
    for entry in state.registry.all_entries() {
        entry.stats.reset();
    }
    state
        .stats
        .peak_memory
        .store(0, std::sync::atomic::Ordering::Relaxed);
    crate::engine::maxmemory::reset_stats(state);
    Ok(Reply::Ok)
}

/// CONFIG REWRITE: writes the options that differ from their defaults back to the config file
/// the server was started with, keeping its comments and unknown lines.
fn rewrite(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let Some(path) = ctx.state.config.config_file.clone() else {
        return Err(CommandError::err(
            "The server is running without a config file",
        ));
    };
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CommandError::err(format!(
                "Rewriting config file: {}",
                config::strerror(&e)
            )))
        }
    };
    let text = rewritten_text(&old, &ctx.state.config.snapshot());
    replace_file(&path, text.as_bytes()).map_err(|e| {
        CommandError::err(format!("Rewriting config file: {}", config::strerror(&e)))
    })?;
    Ok(Reply::Ok)
}

/// Replaces `path` with `contents` atomically, as Redis does: a temp file in the same directory,
/// synced, renamed over the old file, then the directory synced, so a crash (or a Sentinel
/// failover's CONFIG REWRITE racing a kill) leaves either the old file or the new one, never a
/// torn one. The temp file is removed when any step fails.
fn replace_file(path: &str, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    // The rename is done; a directory that cannot be synced (some filesystems) is not an error.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

const REWRITE_SIGNATURE: &str = "# Generated by CONFIG REWRITE";
const FILE_DIRECTIVES: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// Redis's CONFIG REWRITE algorithm: reuse the lines where an option already appears, blank its
/// extra lines, append options that are not at their default after a signature comment.
fn rewritten_text(old: &str, options: &[(&'static OptionSpec, String)]) -> String {
    let mut lines: Vec<Option<String>> = Vec::new();
    let mut at: HashMap<&'static str, Vec<usize>> = HashMap::new();
    let mut needs_signature = true;
    for raw in old.lines() {
        let line = raw.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            needs_signature &= line != REWRITE_SIGNATURE;
            lines.push(Some(line.to_string()));
            continue;
        }
        let words = crate::protocol::request::split_args(line.as_bytes());
        let name = words
            .as_ref()
            .and_then(|w| w.first())
            .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase());
        match name.as_deref().map(|n| (n, find_option(n))) {
            Some((_, Some(spec))) => {
                at.entry(spec.name).or_default().push(lines.len());
                lines.push(Some(line.to_string()));
            }
            Some((n, None)) if FILE_DIRECTIVES.contains(&n) => lines.push(Some(line.to_string())),
            _ => lines.push(Some(format!("# ??? {line}"))),
        }
    }
    for (spec, value) in options {
        let new_lines = option_lines(spec, value);
        let is_default = *value == spec.default || (spec.name == "dir" && !at.contains_key("dir"));
        let mut slots = at.remove(spec.name).unwrap_or_default().into_iter();
        if slots.len() == 0 && is_default {
            continue;
        }
        for new_line in new_lines {
            match slots.next() {
                Some(i) => lines[i] = Some(new_line),
                None => {
                    if needs_signature {
                        lines.push(Some(REWRITE_SIGNATURE.to_string()));
                        needs_signature = false;
                    }
                    lines.push(Some(new_line));
                }
            }
        }
        for i in slots {
            lines[i] = None;
        }
    }
    let mut out: String = lines.into_iter().flatten().collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

/// The config-file lines that set `spec` to `value`.
fn option_lines(spec: &OptionSpec, value: &str) -> Vec<String> {
    use config::Kind;
    let name = spec.name;
    match spec.kind {
        Kind::Memory { .. } => vec![format!("{name} {}", format_memory(value))],
        Kind::Str => vec![format!("{name} {}", config::repr(value))],
        Kind::NotifyEvents => vec![format!("{name} {}", config::repr(value))],
        Kind::Save if value.is_empty() => vec!["save \"\"".to_string()],
        Kind::Save => value
            .split(' ')
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|p| format!("save {}", p.join(" ")))
            .collect(),
        Kind::ClientOutputBufferLimit => value
            .split(' ')
            .collect::<Vec<_>>()
            .chunks(4)
            .filter(|g| g.len() == 4)
            .map(|g| {
                format!(
                    "{name} {} {} {} {}",
                    g[0],
                    format_memory(g[1]),
                    format_memory(g[2]),
                    g[3]
                )
            })
            .collect(),
        Kind::Percentiles | Kind::Bind if value.is_empty() => vec![format!("{name} \"\"")],
        Kind::ReplicaOf if value.is_empty() => Vec::new(),
        _ => vec![format!("{name} {value}")],
    }
}

/// Byte counts written back with the largest exact unit, as Redis does (`1gb`, `64mb`).
fn format_memory(value: &str) -> String {
    let Ok(bytes) = value.parse::<u64>() else {
        return value.to_string();
    };
    for (unit, size) in [("gb", 1u64 << 30), ("mb", 1 << 20), ("kb", 1 << 10)] {
        if bytes != 0 && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(crate::engine::help_reply(HELP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_comments_and_reuses_lines() {
        let c = crate::config::Config::default();
        let maxmemory = find_option("maxmemory").unwrap();
        let save = find_option("save").unwrap();
        c.set_many(&[
            (maxmemory, vec!["2gb".into()]),
            (save, vec!["100".into(), "1".into()]),
        ])
        .unwrap();
        let old = "# my settings\nmaxmemory 1mb\nport 6379\nmaxmemory 5mb\nrename-command FLUSHALL \"\"\nbogus 1\n";
        let text = rewritten_text(old, &c.snapshot());
        assert_eq!(
            text,
            "# my settings\nmaxmemory 2gb\nport 6379\nrename-command FLUSHALL \"\"\n# ??? bogus 1\n# Generated by CONFIG REWRITE\nsave 100 1\n"
        );
    }

    #[test]
    fn memory_written_with_units() {
        assert_eq!(format_memory("1073741824"), "1gb");
        assert_eq!(format_memory("1048577"), "1048577");
        assert_eq!(format_memory("0"), "0");
    }

    #[test]
    fn replace_file_swaps_the_whole_file_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("ferrocache-replace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.conf");
        let path = path.to_str().unwrap();
        std::fs::write(path, "port 1\nreplicaof 127.0.0.1 2\n").unwrap();
        replace_file(path, b"port 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), "port 1\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node.conf")]);
        let missing = dir.join("no-such-dir").join("node.conf");
        assert!(replace_file(missing.to_str().unwrap(), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
