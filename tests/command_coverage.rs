//! Every registered command is findable in the tests: it appears in a differential script
//! (tests/differential/*.redis, compared byte for byte with redis-server), or, when
//! redis-server cannot be the reference (commands beyond Redis 7.0, commands that end or
//! block the connection, commands whose replies differ per process), `ELSEWHERE` names the
//! test file that exercises it and the test checks that file mentions it.

use std::collections::BTreeSet;
use std::path::Path;

/// (command, test file that covers it, why it is not in a differential script).
const ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "bgrewriteaof",
        "tests/aof.rs",
        "its reply races the rewrite it starts; the AOF tests kill -9 and reload",
    ),
    (
        "info",
        "tests/info.rs",
        "every section holds per-process figures; field names are compared there",
    ),
    ("delifeq", "tests/lock.rs", "beyond Redis 7.0 (Valkey 9)"),
    (
        "monitor",
        "tests/pubsub.rs",
        "its stream carries timestamps and client addresses",
    ),
];

fn differential_commands(root: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("tests/differential")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "redis") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("@noreply ").unwrap_or(line);
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            let first = line.split_whitespace().next().unwrap_or("");
            names.insert(first.trim_matches('"').to_ascii_lowercase());
            // Commands called from scripts count too: redis.call('name', ...).
            for call in ["redis.call(", "redis.pcall("] {
                for (at, _) in line.match_indices(call) {
                    let rest = line[at + call.len()..].trim_start();
                    let rest = rest.trim_start_matches(['\'', '"', '\\']);
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '|')
                        .collect();
                    names.insert(name.to_ascii_lowercase());
                }
            }
        }
    }
    names
}

#[test]
fn every_command_is_in_a_differential_script_or_named_elsewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let covered = differential_commands(root);
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for spec in ferrocache::commands::all() {
        let elsewhere = ELSEWHERE.iter().find(|(name, _, _)| *name == spec.name);
        match (covered.contains(spec.name), elsewhere) {
            (true, Some(_)) => stale.push(format!("{} is in a differential script now", spec.name)),
            (true, None) => {}
            (false, None) => missing.push(spec.name),
            (false, Some((name, file, _))) => {
                let text = std::fs::read_to_string(root.join(file))
                    .unwrap_or_else(|e| panic!("{name}: {file}: {e}"));
                if !text
                    .to_ascii_lowercase()
                    .contains(&name.to_ascii_lowercase())
                {
                    stale.push(format!("{file} does not mention {name}"));
                }
            }
        }
    }
    for (name, _, _) in ELSEWHERE {
        if !ferrocache::commands::all().any(|spec| spec.name == *name) {
            stale.push(format!("{name} is not a registered command"));
        }
    }
    assert!(
        missing.is_empty(),
        "commands in no differential script and not in ELSEWHERE: {missing:?}"
    );
    assert!(stale.is_empty(), "ELSEWHERE is out of date: {stale:?}");
}
