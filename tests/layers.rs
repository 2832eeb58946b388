//! The layer rule of docs/ARCHITECTURE.md, checked on the source: data flows one way,
//! net -> engine (dispatch) -> command families -> keyspace, and the subsystems (acl, aof, rdb,
//! pubsub, observability, config, replication, cluster) never import command families or
//! dispatch, nor the whole `ServerState`: they take the handles of the parts they use.
//! A `crate::` path in non-test code that crosses the rule fails this test (no crossing is
//! tolerated: the last known one went when CONFIG SET reached the listeners through
//! `state::ListenerConfig`, which net implements). The state sits below the engine's
//! execution: it, and every module it imports, names nothing that runs a command (dispatch,
//! `Ctx`, blocking's serving, CLIENT PAUSE, maxmemory, a script's run) or serves a socket.

use std::collections::BTreeSet;
use std::path::Path;

/// (importer prefix, forbidden imported prefixes, why).
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "keyspace",
        &[
            "protocol",
            "engine",
            "commands",
            "net",
            "state",
            "acl",
            "aof",
            "rdb",
            "pubsub",
            "observability",
            "scripting",
            "memcache",
            "replication",
            "server",
            "config",
        ],
        "the keyspace knows nothing of sockets, RESP, commands or persistence",
    ),
    (
        "protocol",
        &["engine", "commands", "net", "state", "keyspace", "server"],
        "the protocol codec knows nothing of commands",
    ),
    (
        "engine",
        &["commands", "net", "memcache", "server"],
        "the engine calls command families only through their specs' function pointers",
    ),
    (
        "commands",
        &["net", "memcache", "server"],
        "command families never touch sockets",
    ),
    (
        "rdb",
        &["commands", "engine", "net", "server", "state"],
        "subsystems never import command families, dispatch or the server's state",
    ),
    (
        "config",
        &["commands", "engine", "net", "server", "keyspace", "state"],
        "subsystems never import command families or dispatch",
    ),
    (
        "state",
        &[
            "commands",
            "net",
            "server",
            "memcache::exec",
            "engine::context",
            "engine::Ctx",
            "engine::dispatch",
            "engine::blocking",
            "engine::client_pause",
            "engine::maxmemory",
            "scripting::run",
        ],
        "the shared state holds data, never what runs a command or serves a socket",
    ),
    (
        "scripting",
        &[
            "commands",
            "engine::dispatch",
            "engine::maxmemory",
            "net",
            "server",
            "state",
        ],
        "scripting reaches dispatch only through run::Calls, which EVAL's family implements",
    ),
    (
        "commands::generic::migrate",
        &["engine::dispatch", "net", "state"],
        "MIGRATE's network step says what to do next; the connection task dispatches",
    ),
    (
        "gate",
        &["commands", "engine", "net", "server", "state"],
        "the gate is given the keyspace and clock it needs",
    ),
    (
        "net::metrics",
        &["engine::dispatch", "state"],
        "the metrics endpoint reads a handle and runs INFO through metrics::Host",
    ),
];

/// The subsystems: each takes handles of the parts it uses, one rule for all of them.
const SUBSYSTEMS: &[&str] = &[
    "acl",
    "aof",
    "pubsub",
    "observability",
    "replication",
    "cluster",
];
const SUBSYSTEM_FORBIDS: &[&str] = &["commands", "engine::dispatch", "net", "server", "state"];
const SUBSYSTEM_WHY: &str =
    "subsystems never import command families, dispatch or the server's state";

/// Every rule: `RULES` and one `SUBSYSTEM_FORBIDS` rule per subsystem.
fn rules() -> impl Iterator<Item = (&'static str, &'static [&'static str], &'static str)> {
    RULES.iter().copied().chain(
        SUBSYSTEMS
            .iter()
            .map(|&subsystem| (subsystem, SUBSYSTEM_FORBIDS, SUBSYSTEM_WHY)),
    )
}

fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("::")
}

/// The `crate::` paths of a file's non-test code, expanded one level of `crate::{a, b::c}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut lines = text.lines().peekable();
    let mut code = String::new();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    out.insert(path_prefix(item));
                }
            }
        } else {
            out.insert(path_prefix(rest));
        }
    }
    out
}

fn path_prefix(text: &str) -> String {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end].trim_end_matches(':').to_string()
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}::"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn imports_follow_the_layer_rule() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut crossings = Vec::new();
    for file in &files {
        let module = module_of(file, &src);
        let text = std::fs::read_to_string(file).unwrap();
        for import in imports(&text) {
            for (_, forbidden, why) in rules().filter(|(importer, ..)| under(&module, importer)) {
                if forbidden.iter().any(|bad| under(&import, bad)) {
                    crossings.push(format!(
                        "{} imports crate::{import} ({why})",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "imports across the layer rule:\n{}",
        crossings.join("\n")
    );
}

/// What runs a command or serves a socket: the state and the modules it holds or builds from
/// import none of it, so none of them is part of an import cycle through the state.
const RUNS_COMMANDS: &[&str] = &[
    "state",
    "commands",
    "net",
    "server",
    "memcache::exec",
    "engine::context",
    "engine::Ctx",
    "engine::dispatch",
    "engine::blocking",
    "engine::client_pause",
    "engine::maxmemory",
    "scripting::run",
];

/// Modules of the engine and of scripting that the state holds (or that what it holds needs)
/// though their neighbours run commands; checked with the modules `state.rs` imports.
const HELD_BY_THE_STATE: &[&str] = &[
    "engine::registry",
    "engine::client",
    "engine::waiters",
    "engine::evictor",
    "scripting",
    "scripting::functions",
    "scripting::busy",
    "scripting::sandbox",
    "scripting::convert",
    "memcache",
];

/// The source file of the longest module prefix of `path` (`engine::waiters::Blocking` ->
/// src/engine/waiters.rs, `scripting::Scripting` -> src/scripting/mod.rs).
fn module_file(src: &Path, path: &str) -> Option<(String, std::path::PathBuf)> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().find_map(|n| {
        let dir = parts[..n]
            .iter()
            .fold(src.to_path_buf(), |p, part| p.join(part));
        [dir.with_extension("rs"), dir.join("mod.rs")]
            .into_iter()
            .find(|f| f.is_file())
            .map(|f| (parts[..n].join("::"), f))
    })
}

#[test]
fn the_state_and_what_it_holds_run_no_command() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let state = std::fs::read_to_string(src.join("state.rs")).unwrap();
    let mut held: BTreeSet<(String, std::path::PathBuf)> = imports(&state)
        .iter()
        .filter_map(|path| module_file(&src, path))
        .collect();
    for module in HELD_BY_THE_STATE {
        held.insert(module_file(&src, module).expect("a module of src/"));
    }
    let mut crossings = Vec::new();
    for (module, file) in &held {
        if RUNS_COMMANDS.iter().any(|m| under(module, m)) {
            crossings.push(format!("state.rs imports crate::{module}"));
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for import in imports(&text) {
            if RUNS_COMMANDS.iter().any(|bad| under(&import, bad)) {
                crossings.push(format!(
                    "{module} (held by the state) imports crate::{import}"
                ));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "the state must sit below what runs commands:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn the_parser_sees_grouped_and_plain_paths() {
    let found = imports(
        "use crate::{engine::dispatch, keyspace::Shard};\nfn f() { crate::net::x(); }\n// crate::server\n#[cfg(test)]\nmod tests { use crate::commands; }\n",
    );
    let want: BTreeSet<String> = ["engine::dispatch", "keyspace::Shard", "net::x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
}
