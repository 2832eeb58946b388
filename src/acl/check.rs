//! Whether a user's rules allow one command call (Redis's `ACLSelectorCheckCmd`): the command
//! (or subcommand) bit or an allowed first argument, then every key against the key patterns
//! with the access the command needs, then the Pub/Sub channels against the channel patterns.

use super::rules::UserRules;
use crate::engine::registry::Found;
use crate::glob::glob_match;
use bytes::Bytes;

/// Why a call was refused; the index is the offending argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

/// The root permissions, then each selector: the first that allows the call wins. Otherwise
/// the most specific refusal is reported (channel over key over command), as Redis does.
pub fn check(rules: &UserRules, found: &Found, argv: &[Bytes]) -> Result<(), Denied> {
    let mut refusal = match check_one(rules, found, argv) {
        Ok(()) => return Ok(()),
        Err(denied) => denied,
    };
    for selector in &rules.selectors {
        match check_one(selector, found, argv) {
            Ok(()) => return Ok(()),
            Err(denied) if rank(denied) > rank(refusal) => refusal = denied,
            Err(_) => {}
        }
    }
    Err(refusal)
}

/// Whether the root permissions or a selector allow this call with read access to every key
/// (`allkeys`, or a `%R~*` / `~*` pattern): Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess`,
/// which SORT's BY and GET patterns require.
pub fn full_read_key_access(rules: &UserRules, found: &Found, argv: &[Bytes]) -> bool {
    std::iter::once(rules)
        .chain(rules.selectors.iter())
        .any(|r| {
            check_one(r, found, argv).is_ok()
                && (r.all_keys || r.key_patterns.iter().any(|p| p.read && p.pattern == b"*"))
        })
}

fn rank(denied: Denied) -> u8 {
    match denied {
        Denied::Command => 1,
        Denied::Key(_) => 2,
        Denied::Channel(_) => 3,
    }
}

fn check_one(rules: &UserRules, found: &Found, argv: &[Bytes]) -> Result<(), Denied> {
    if !command_allowed(rules, found, argv) {
        return Err(Denied::Command);
    }
    if !rules.all_keys {
        check_keys(rules, found, argv)?;
    }
    if !rules.all_channels {
        check_channels(rules, found, argv)?;
    }
    Ok(())
}

fn command_allowed(rules: &UserRules, found: &Found, argv: &[Bytes]) -> bool {
    if rules.has_bit(found.id) {
        return true;
    }
    let Some(first) = argv.get(1) else {
        return false;
    };
    rules
        .first_args
        .iter()
        .find(|(id, _)| *id == found.id)
        .is_some_and(|(_, args)| args.iter().any(|a| a.eq_ignore_ascii_case(first)))
}

fn check_keys(rules: &UserRules, found: &Found, argv: &[Bytes]) -> Result<(), Denied> {
    // Commands with declared key specs: each key's access from the spec that finds it.
    let by_specs = crate::engine::key_specs::declared(found.full_name)
        .and_then(|specs| crate::engine::key_specs::keys_by_specs(specs, argv));
    for (nth, (_, i)) in found.spec.keys.key_indexes(argv).into_iter().enumerate() {
        let declared = by_specs
            .as_ref()
            .and_then(|keys| keys.iter().find(|(at, _)| *at == i))
            .map(|(_, flags)| access_of(flags));
        let (read, write) = declared.unwrap_or_else(|| key_access(found, argv, nth));
        let key = &argv[i];
        let allowed = rules.key_patterns.iter().any(|p| {
            (p.read || !read) && (p.write || !write) && glob_match(&p.pattern, key, false)
        });
        if !allowed {
            return Err(Denied::Key(i));
        }
    }
    Ok(())
}

/// The (read, write) access the `nth` key of a call needs, from its key-spec flags as Redis
/// reads them: `access` needs read permission; `insert`, `update` and `delete` need write
/// permission; a flag-less `RO` key (EXISTS, TTL) needs neither, only a matching pattern. SET
/// needs read access only with its GET option; commands whose keys differ in kind (a source and
/// a destination) are listed with Redis's key specs.
fn key_access(found: &Found, argv: &[Bytes], nth: usize) -> (bool, bool) {
    const READ: (bool, bool) = (true, false);
    const WRITE: (bool, bool) = (false, true);
    const BOTH: (bool, bool) = (true, true);
    let first = nth == 0;
    match found.spec.name {
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            return (get, true);
        }
        // Source: RW access delete; destination: OW/RW insert.
        "rename" | "renamenx" | "smove" | "lmove" | "blmove" | "rpoplpush" | "brpoplpush" => {
            return if first { BOTH } else { WRITE };
        }
        "copy" => return if first { READ } else { WRITE },
        // Destination first: OW update; sources: RO access.
        "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore"
        | "zdiffstore" | "zrangestore" => return if first { WRITE } else { READ },
        "move" | "lmpop" | "blmpop" | "zmpop" | "bzmpop" => return BOTH,
        _ => {}
    }
    access_of(crate::engine::key_flags::key_flags_of_call(
        found.spec, argv, nth,
    ))
}

/// (read, write) permission a key with these key-spec flags needs.
fn access_of(flags: &[&str]) -> (bool, bool) {
    let read = flags.contains(&"access");
    let write = flags
        .iter()
        .any(|f| matches!(*f, "insert" | "update" | "delete"));
    (read, write)
}

/// Whether a channel (or, `literal`, a PSUBSCRIBE pattern) is open to these rules.
pub fn channel_allowed(rules: &UserRules, channel: &[u8], literal: bool) -> bool {
    rules.all_channels
        || rules.channels.iter().any(|p| {
            if literal {
                p.as_slice() == channel
            } else {
                glob_match(p, channel, false)
            }
        })
}

fn check_channels(rules: &UserRules, found: &Found, argv: &[Bytes]) -> Result<(), Denied> {
    let (range, literal) = match found.spec.name {
        "publish" | "spublish" => (1..2.min(argv.len()), false),
        "subscribe" | "ssubscribe" => (1..argv.len(), false),
        "psubscribe" => (1..argv.len(), true),
        _ => return Ok(()),
    };
    for i in range {
        if !channel_allowed(rules, &argv[i], literal) {
            return Err(Denied::Channel(i));
        }
    }
    Ok(())
}
