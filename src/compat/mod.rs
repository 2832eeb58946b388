//! docs/compatibility.md's command tables and README.md's command summary, rendered from the
//! command registry, Redis 7.2's command list (`redis-7.2-commands.txt`: group, name, since)
//! and the rows of `notes.rs` (what differs from Redis, per command). Unit tests fail when the
//! documents and the registry disagree; `UPDATE_DOCS=1 cargo test --lib commands::compat`
//! rewrites the generated regions.
//!
//! Every command of the registry and every Redis 7.2 command has a row: a registry command
//! without a note is ✔ (every option of Redis 7.2, no difference), a Redis 7.2 command missing
//! from the registry is ✘. A command beyond Redis 7.2 must have a note saying where it comes from.

mod notes;

pub use notes::{NOTES, NOT_YET_FEATURES};

use crate::engine::CommandSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// How much of a command works here.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Every option of Redis 7.2's page, same replies.
    Full,
    /// Works, with the differences written in the row.
    Partial,
    /// Not implemented (unknown command), or only its refusal.
    Missing,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Full => "✔",
            Status::Partial => "◐",
            Status::Missing => "✘",
        }
    }
}

/// One row of a compatibility table.
pub struct Note {
    /// Full lower-case names (`get`, `client|pause`), all of one group.
    pub commands: &'static [&'static str],
    /// The options the row is about, in Redis's syntax (`[NX|XX] [GET]`), or "".
    pub options: &'static str,
    pub status: Status,
    /// What differs from Redis 7.2, and what a reader must know; "" for nothing.
    pub differences: &'static str,
}

/// Redis 7.2's commands: full name → (group, since). Containers with subcommands (CLIENT,
/// CONFIG ...) are listed by their subcommands only.
pub fn redis_commands() -> BTreeMap<&'static str, (&'static str, &'static str)> {
    include_str!("redis-7.2-commands.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut words = line.split_whitespace();
            let group = words.next().expect("group");
            let name = words.next().expect("name");
            let since = words.next().expect("since");
            (name, (group, since))
        })
        .collect()
}

/// Every command and subcommand the server has: full name → spec (containers by their
/// subcommands only).
pub fn our_commands() -> BTreeMap<String, &'static CommandSpec> {
    let mut out = BTreeMap::new();
    for spec in crate::commands::all() {
        if spec.subcommands.is_empty() {
            out.insert(spec.name.to_string(), spec);
        }
        for sub in spec.subcommands {
            out.insert(format!("{}|{}", spec.name, sub.name), sub);
        }
    }
    out
}

/// Redis's group names, in the order the documents show them, with their titles.
pub const GROUPS: &[(&str, &str)] = &[
    ("string", "strings"),
    ("generic", "keys and expiry"),
    ("hash", "hashes"),
    ("list", "lists"),
    ("set", "sets"),
    ("sorted-set", "sorted sets"),
    ("bitmap", "bitmaps"),
    ("hyperloglog", "HyperLogLog"),
    ("geo", "geo"),
    ("stream", "streams"),
    ("pubsub", "pub/sub"),
    ("transactions", "transactions"),
    ("scripting", "scripting and functions"),
    ("connection", "connection"),
    ("server", "server"),
    ("cluster", "cluster"),
];

/// `client|pause` → `CLIENT PAUSE`.
fn display(name: &str) -> String {
    name.replace('|', " ").to_ascii_uppercase()
}

/// Markdown cells must not contain a bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The group of a command, ours or Redis's.
fn group_of(
    name: &str,
    ours: &BTreeMap<String, &'static CommandSpec>,
    redis: &BTreeMap<&str, (&str, &str)>,
) -> Option<&'static str> {
    if let Some(spec) = ours.get(name) {
        return Some(spec.group);
    }
    redis.get(name).map(|(group, _)| {
        GROUPS
            .iter()
            .find(|(g, _)| g == group)
            .map_or("", |(g, _)| *g)
    })
}

/// The table of one group: the notes' rows in `NOTES` order, then every other command of the
/// registry (✔), then the Redis 7.2 commands of the group that are missing here (✘, one row).
pub fn render_group(group: &str) -> String {
    let ours = our_commands();
    let redis = redis_commands();
    let mut out = String::from(
        "| Command | Since | Options | Status | Differences and notes |\n|---|---|---|---|---|\n",
    );
    let mut covered = BTreeSet::new();
    for note in NOTES {
        if group_of(note.commands[0], &ours, &redis) != Some(group) {
            continue;
        }
        let since: Vec<&str> = note
            .commands
            .iter()
            .map(|name| {
                ours.get(*name)
                    .map(|spec| spec.since)
                    .or_else(|| redis.get(name).map(|(_, since)| *since))
                    .unwrap_or("")
            })
            .collect();
        let since = if since.iter().all(|s| *s == since[0]) {
            since[0].to_string()
        } else {
            since.join(", ")
        };
        let names: Vec<String> = note.commands.iter().map(|n| display(n)).collect();
        covered.extend(note.commands.iter().copied());
        let _ = writeln!(
            out,
            "| {} | {since} | {} | {} | {} |",
            names.join(", "),
            cell(note.options),
            note.status.mark(),
            cell(note.differences)
        );
    }
    for (name, spec) in &ours {
        if spec.group == group && !covered.contains(name.as_str()) {
            let _ = writeln!(out, "| {} | {} |  | ✔ |  |", display(name), spec.since);
        }
    }
    let missing: Vec<String> = redis
        .iter()
        .filter(|(name, (g, _))| {
            *g == group && !ours.contains_key(**name) && !covered.contains(*name)
        })
        .map(|(name, _)| display(name))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "| {} |  |  | ✘ | Not implemented: unknown command. |",
            missing.join(", ")
        );
    }
    out
}

/// The Redis 7.2 commands of `group` that the registry lacks or that only refuse (✘ rows).
fn missing_in(group: &str) -> Vec<&'static str> {
    let ours = our_commands();
    let refused = |name: &str| {
        NOTES
            .iter()
            .any(|n| n.status == Status::Missing && n.commands.contains(&name))
    };
    redis_commands()
        .into_iter()
        .filter(|(name, (g, _))| *g == group && (!ours.contains_key(*name) || refused(name)))
        .map(|(name, _)| name)
        .collect()
}

/// README's summary: which groups are complete, what each other group lacks, and what is not
/// there yet beyond commands.
pub fn render_summary() -> String {
    let mut complete = Vec::new();
    let mut partial = Vec::new();
    let mut absent = Vec::new();
    for (group, title) in GROUPS {
        let missing = missing_in(group);
        let has_any = redis_commands()
            .iter()
            .any(|(name, (g, _))| g == group && !missing.contains(name));
        if missing.is_empty() {
            complete.push(*title);
        } else if has_any {
            let names: Vec<String> = missing.iter().map(|n| display(n)).collect();
            partial.push(format!("{title} (all but {})", names.join(", ")));
        } else {
            absent.push(*title);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "- Every Redis 7.2 command of these groups (◐ rows of the table say what differs): {}.",
        complete.join(", ")
    );
    if !partial.is_empty() {
        let _ = writeln!(out, "- Most of: {}.", partial.join("; "));
    }
    let mut not_yet = Vec::new();
    if !absent.is_empty() {
        not_yet.push(format!("the {} commands", absent.join(", ")));
    }
    not_yet.extend(NOT_YET_FEATURES.iter().map(|f| f.to_string()));
    if !not_yet.is_empty() {
        let _ = writeln!(out, "- Not yet: {}.", not_yet.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(group: &str) -> String {
        format!("<!-- commands:{group}:begin (generated by src/compat) -->\n")
    }

    fn end(group: &str) -> String {
        format!("<!-- commands:{group}:end -->")
    }

    /// Replaces (with `UPDATE_DOCS=1`) or checks the text between `begin` and `end` of `path`.
    fn check_region(doc: &mut String, path: &str, begin: &str, end: &str, fresh: &str) -> bool {
        let start = doc
            .find(begin)
            .unwrap_or_else(|| panic!("{path}: no marker {begin}"))
            + begin.len();
        let stop = start
            + doc[start..]
                .find(end)
                .unwrap_or_else(|| panic!("{path}: no marker {end}"));
        assert_eq!(doc.matches(begin).count(), 1, "{path}: {begin} twice");
        if doc[start..stop] == *fresh {
            return true;
        }
        doc.replace_range(start..stop, fresh);
        false
    }

    fn check_file(path: &str, regions: &[(String, String, String)]) {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let mut doc = std::fs::read_to_string(&full).expect(path);
        let mut stale = Vec::new();
        for (begin, end, fresh) in regions {
            if !check_region(&mut doc, path, begin, end, fresh) {
                stale.push(begin.trim().to_string());
            }
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&full, doc).expect("write the document");
            return;
        }
        assert!(
            stale.is_empty(),
            "{path} is stale in {stale:?}: run `UPDATE_DOCS=1 cargo test --lib commands::compat` \
             and commit the result"
        );
    }

    /// docs/compatibility.md carries one generated table per command group.
    #[test]
    fn compatibility_doc_matches_the_registry() {
        let regions: Vec<_> = GROUPS
            .iter()
            .map(|(group, _)| (begin(group), end(group), render_group(group)))
            .collect();
        check_file("docs/compatibility.md", &regions);
    }

    /// README.md's command summary is generated too, and nothing outside it claims a whole
    /// group.
    #[test]
    fn readme_summary_matches_the_registry() {
        let begin = "<!-- commands:summary:begin (generated by src/compat) -->\n";
        let end = "<!-- commands:summary:end -->";
        check_file("README.md", &[(begin.into(), end.into(), render_summary())]);
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let outside = readme.split(begin).next().unwrap_or("").to_string()
            + readme.split(end).nth(1).unwrap_or("");
        assert!(
            !outside.contains("every Redis 7.2 command") && !outside.contains("Not yet"),
            "README.md claims command coverage outside its generated summary"
        );
    }

    /// Every group a command declares has a table; every Redis 7.2 group too.
    #[test]
    fn every_group_has_a_table() {
        for (_, spec) in our_commands() {
            assert!(
                GROUPS.iter().any(|(g, _)| *g == spec.group),
                "{}: group {} has no table in GROUPS",
                spec.name,
                spec.group
            );
        }
        for (name, (group, _)) in redis_commands() {
            assert!(
                GROUPS.iter().any(|(g, _)| *g == group),
                "{name}: Redis group {group} has no table in GROUPS"
            );
        }
    }

    /// Notes name real commands (ours, or Redis 7.2's for ✘ rows), once each, one group per
    /// row; a command beyond Redis 7.2 is explained by a note; ✘ is only for commands we lack.
    #[test]
    fn notes_name_known_commands() {
        let ours = our_commands();
        let redis = redis_commands();
        let mut seen = BTreeSet::new();
        for note in NOTES {
            let group = group_of(note.commands[0], &ours, &redis);
            for name in note.commands {
                assert!(seen.insert(*name), "{name} has two notes");
                assert!(
                    ours.contains_key(*name) || redis.contains_key(name),
                    "{name}: neither ours nor a Redis 7.2 command"
                );
                assert_eq!(
                    group_of(name, &ours, &redis),
                    group,
                    "{name}: one row per group ({:?})",
                    note.commands
                );
                if note.status != Status::Missing {
                    assert!(
                        ours.contains_key(*name),
                        "{name} is not in the registry: its row must be ✘"
                    );
                } else {
                    assert!(
                        !ours.contains_key(*name) || !note.differences.is_empty(),
                        "{name} is in the registry: say what is missing"
                    );
                }
            }
            assert!(
                note.status == Status::Full || !note.differences.is_empty(),
                "{:?}: a ◐ or ✘ row says what differs",
                note.commands
            );
        }
        for name in ours.keys() {
            if !redis.contains_key(name.as_str()) {
                assert!(
                    seen.contains(name.as_str()),
                    "{name} is beyond Redis 7.2: give it a note in src/compat/notes.rs"
                );
            }
        }
    }

    /// COMMAND DOCS says what Redis says for the commands both have.
    #[test]
    fn since_and_group_as_redis() {
        let redis = redis_commands();
        for (name, spec) in our_commands() {
            if let Some((group, since)) = redis.get(name.as_str()) {
                assert_eq!(spec.group, *group, "{name}'s group");
                assert_eq!(spec.since, *since, "{name}'s since");
            }
        }
    }
}
