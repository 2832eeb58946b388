//! Users from text: the `aclfile` (ACL LOAD/SAVE, one `user <name> <rules...>` per line, as
//! ACL LIST prints them) and `user` lines of redis.conf. Both are parsed completely before
//! anything changes, so a bad line leaves the previous users in place.

use super::rules::{RuleEnv, UserRules};
use crate::protocol::request::split_args;
use bytes::Bytes;
use std::io::Write;

/// Parses an ACL file into (name, rules) pairs; errors in Redis's `file:line: reason. ` form,
/// all of them, followed by Redis's warning.
pub fn load(env: &RuleEnv<'_>, path: &str) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            crate::config::strerror(&e)
        )
    })?;
    parse_text(env, path, &text)
}

/// Parses the text of an ACL file (`path` only names it in errors); `load` without the read.
pub fn parse_text(
    env: &RuleEnv<'_>,
    path: &str,
    text: &[u8],
) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let mut users: Vec<(Vec<u8>, UserRules)> = Vec::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let Some(words) = split_args(line) else {
            errors.push_str(&format!(
                "{path}:{line_no}: unbalanced quotes in acl line. "
            ));
            continue;
        };
        if words.len() < 2 || !words[0].eq_ignore_ascii_case(b"user") {
            errors.push_str(&format!(
                "{path}:{line_no} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1].to_vec();
        if !valid_username(&name) {
            errors.push_str(&format!(
                "'{path}:{line_no}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(&name)
            ));
            continue;
        }
        if users.iter().any(|(n, _)| *n == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {line_no}. ",
                String::from_utf8_lossy(&name)
            ));
            continue;
        }
        let Ok(words) = super::rules::merge_selector_args(&words[2..]) else {
            errors.push_str(&format!(
                "{path}:{line_no}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut rules = UserRules::new(env.all_channels_by_default);
        for word in &words {
            if let Err(e) = rules.apply(word, env) {
                errors.push_str(&format!(
                    "{path}:{line_no}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(word),
                    e.0
                ));
                break;
            }
        }
        users.push((name, rules));
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    Ok(users)
}

/// redis.conf `user` lines (words after `user`), applied in order.
pub fn parse_config_lines(
    env: &RuleEnv<'_>,
    lines: &[Vec<String>],
) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let mut users: Vec<(Vec<u8>, UserRules)> = Vec::new();
    for words in lines {
        let name = words[0].as_bytes().to_vec();
        // `--user "alice on >pw"` is one word, so a name with spaces: Redis refuses to start.
        if !valid_username(&name) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        if users.iter().any(|(n, _)| *n == name) {
            return Err(
                "Duplicate user found. A user can only be defined once in config files".into(),
            );
        }
        let mut rules = if name == b"default" {
            let mut rules = UserRules::superuser();
            let _ = rules.apply(b"reset", env);
            rules
        } else {
            UserRules::new(env.all_channels_by_default)
        };
        let merged = super::rules::merge_selector_args(&words[1..]).map_err(|_| {
            format!(
                "Unmatched parenthesis in acl selector for the user named '{}'",
                words[0]
            )
        })?;
        for word in &merged {
            rules.apply(word, env).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(word),
                    words[0],
                    e.0
                )
            })?;
        }
        users.push((name, rules));
    }
    Ok(users)
}

/// ACL SAVE: every user as an ACL LIST line, written to a temporary file, synced and renamed
/// over the old one.
pub fn save(acl: &super::Acl, path: &str) -> std::io::Result<()> {
    let mut text = Vec::new();
    for user in acl.users() {
        text.extend_from_slice(&file_line(&user.name, &user.rules()));
        text.push(b'\n');
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = std::path::Path::new(path).parent() {
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// One user as ACL SAVE writes it: ACL LIST's line, with every word that `split_args` would
/// not give back as it is written in double quotes. Such words are rare but accepted by
/// SETUSER, as in Redis: a quote in a key pattern (`~a"b`) or a user name (`it's`), which
/// `split_args` would take as the start of a quoted word; white space or control bytes in the
/// first argument of a `+select|0`-style rule. Redis writes them raw and then refuses its own
/// file ("unbalanced quotes") or loads other rules; the quoted form loads in both.
pub fn file_line(name: &[u8], rules: &UserRules) -> Vec<u8> {
    let mut line = b"user ".to_vec();
    put_file_word(&mut line, name);
    for word in rules.describe_words() {
        line.push(b' ');
        put_file_word(&mut line, &word);
    }
    line
}

fn put_file_word(out: &mut Vec<u8>, word: &[u8]) {
    let plain = |b: u8| b > b' ' && b != b'"' && b != b'\'' && b != 0x7f;
    if word.iter().all(|&b| plain(b)) {
        out.extend_from_slice(word);
        return;
    }
    out.push(b'"');
    for &b in word {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b' ' | b'\'' => out.push(b),
            _ if b < b' ' || b == 0x7f => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// ACL LIST's lines: `user <name> <rules>`.
pub fn list_lines(acl: &super::Acl) -> Vec<Bytes> {
    acl.users()
        .iter()
        .map(|user| {
            let mut line = b"user ".to_vec();
            line.extend_from_slice(&user.name);
            line.push(b' ');
            line.extend_from_slice(&user.rules().describe());
            Bytes::from(line)
        })
        .collect()
}

/// Usernames may not hold white space or NUL bytes (ACL SETUSER's rule).
pub fn valid_username(name: &[u8]) -> bool {
    !super::rules::has_space_or_nul(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestServer;

    // Found by the acl fuzz target: a key pattern holding a quote (accepted by SETUSER, as in
    // Redis) was saved raw, and the saved file then failed to load ("unbalanced quotes").
    #[test]
    fn saved_lines_with_quotes_load_back_to_the_same_rules() {
        let t = TestServer::new();
        let env = crate::acl::rule_env(&t.state.registry, &t.state.config);
        let mut rules = UserRules::new(false);
        for rule in [
            &b"on"[..],
            b"~a\"b\\x41",
            b"%R~it's",
            b"&ch\"",
            b"+get",
            b"(~sel\"x +set)",
        ] {
            rules.apply(rule, &env).unwrap();
        }
        let line = file_line(b"o'brien", &rules);
        let loaded = parse_text(&env, "t.acl", &line).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].0, b"o'brien");
        assert_eq!(
            String::from_utf8_lossy(&loaded[0].1.describe()),
            String::from_utf8_lossy(&rules.describe())
        );
        // First arguments are any bytes (Redis prints them raw): white space, CR LF, non-UTF-8.
        let mut args = UserRules::new(false);
        for rule in [&b"+select|a b"[..], b"+get|\xff\r\n", b"+get|\x01\x7f\"'\\"] {
            args.apply(rule, &env).unwrap();
        }
        assert_eq!(
            args.describe(),
            b"off resetchannels -@all +select|a b +get|\xff\r\n +get|\x01\x7f\"'\\".to_vec()
        );
        let line = file_line(b"u", &args);
        assert!(!line.contains(&b'\n'), "{}", String::from_utf8_lossy(&line));
        let loaded = parse_text(&env, "t.acl", &line).unwrap();
        assert_eq!(loaded[0].1.describe(), args.describe());
        assert_eq!(loaded[0].1.first_args, args.first_args);
        // Words without quotes are written exactly as ACL LIST shows them.
        let mut plain = UserRules::new(false);
        plain.apply(b"~app:*", &env).unwrap();
        let mut expected = b"user alice ".to_vec();
        expected.extend_from_slice(&plain.describe());
        assert_eq!(file_line(b"alice", &plain), expected);
    }
}
