//! One user's rules and the ACL SETUSER grammar that changes them (Redis 7.2's `ACLSetUser` and
//! `ACLSetSelector`): flags, passwords, key patterns, channel patterns and command rules.
//!
//! Command permissions are a bitmap indexed by the registry's command ids (a subcommand has its
//! own id). Next to the bitmap we keep the command rules in the order they were given, as Redis
//! 7.2 does, so ACL LIST and GETUSER print back what the operator wrote: `+@all -@dangerous +keys`.
//! Applying `+cmd` removes any earlier rule for `cmd` (and its `cmd|sub` rules) before appending.
//! A selector, `(~k:* +get)`, is a further `UserRules` of which only the permission fields are
//! used; a call runs if the user's own permissions or any selector allow it.

use crate::engine::registry::{Found, Registry, COMMAND_ID_MAX};
use sha2::{Digest, Sha256};

const WORDS: usize = COMMAND_ID_MAX / 64;

/// What a SETUSER rule can fail with; `text` is the reason Redis prints after the modifier.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleError(pub &'static str);

const SYNTAX: RuleError = RuleError("Syntax error");
const UNKNOWN_COMMAND: RuleError = RuleError("Unknown command or category name in ACL");
const KEY_AFTER_ALL: RuleError = RuleError("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
const CHANNEL_AFTER_ALL: RuleError = RuleError("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
const NO_SUCH_PASSWORD: RuleError =
    RuleError("The password you are trying to remove from the user does not exist");
const BAD_HASH: RuleError = RuleError(
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
);
const FIRSTARG_OF_SUB: RuleError = RuleError("Allowing first-arg of a subcommand is not supported");

/// What a rule needs from the server: the command table and `acl-pubsub-default`.
pub struct RuleEnv<'a> {
    pub registry: &'a Registry,
    pub all_channels_by_default: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

/// A user: flags, passwords (SHA-256 in lower-case hex) and permissions.
#[derive(Clone, Debug)]
pub struct UserRules {
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)); shown only.
    pub sanitize_payload: Option<bool>,
    pub passwords: Vec<String>,
    pub commands: [u64; WORDS],
    /// Set by `+@all`: commands added later are allowed too; ACL LIST starts with `+@all`.
    pub all_commands: bool,
    /// `+cmd|arg` for a command without subcommands: the first arguments allowed.
    pub first_args: Vec<(u16, Vec<Vec<u8>>)>,
    /// The command rules since the last `+@all`/`-@all`, in order, as ACL LIST prints them
    /// (bytes: a first argument may be any bytes).
    pub command_rules: Vec<Vec<u8>>,
    pub all_keys: bool,
    pub key_patterns: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
    /// Selectors: extra permission sets, each checked when the root one refuses. Only their
    /// command, key and channel fields are used.
    pub selectors: Vec<UserRules>,
}

impl UserRules {
    /// A new user: disabled, no passwords, no commands, no keys; channels per
    /// `acl-pubsub-default`.
    pub fn new(all_channels: bool) -> UserRules {
        UserRules {
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            commands: [0; WORDS],
            all_commands: false,
            first_args: Vec::new(),
            command_rules: Vec::new(),
            all_keys: false,
            key_patterns: Vec::new(),
            all_channels,
            channels: Vec::new(),
            selectors: Vec::new(),
        }
    }

    /// The `default` user as Redis creates it: `on nopass ~* &* +@all`.
    pub fn superuser() -> UserRules {
        let mut rules = UserRules::new(true);
        rules.enabled = true;
        rules.nopass = true;
        rules.all_keys = true;
        rules.set_all_commands(true);
        rules
    }

    /// Applies one SETUSER modifier.
    pub fn apply(&mut self, rule: &[u8], env: &RuleEnv<'_>) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize_payload = Some(false),
            b"sanitize-payload" => self.sanitize_payload = Some(true),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => self.allow_all_keys(),
            b"resetkeys" => {
                self.all_keys = false;
                self.key_patterns.clear();
            }
            b"allchannels" => self.allow_all_channels(),
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.set_all_commands(true),
            b"nocommands" | b"-@all" => self.set_all_commands(false),
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                *self = UserRules::new(env.all_channels_by_default);
                self.sanitize_payload = Some(true);
            }
            _ => return self.apply_argument_rule(rule, env),
        }
        Ok(())
    }

    /// A selector `(rule rule ...)`: a new permission set from its space-separated rules, which
    /// may only be key, channel and command rules.
    fn add_selector(&mut self, body: &[u8], env: &RuleEnv<'_>) -> Result<(), RuleError> {
        let mut selector = UserRules::new(env.all_channels_by_default);
        for word in body.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let lower = word.to_ascii_lowercase();
            let permission = matches!(
                lower.as_slice(),
                b"allkeys"
                    | b"resetkeys"
                    | b"allchannels"
                    | b"resetchannels"
                    | b"allcommands"
                    | b"nocommands"
            ) || matches!(word[0], b'~' | b'%' | b'&' | b'+' | b'-');
            if !permission {
                return Err(SYNTAX);
            }
            selector.apply(word, env)?;
        }
        self.selectors.push(selector);
        Ok(())
    }

    /// Rules whose first byte says what follows: passwords, patterns, commands.
    fn apply_argument_rule(&mut self, rule: &[u8], env: &RuleEnv<'_>) -> Result<(), RuleError> {
        // An empty rule changes nothing, as in Redis.
        let Some((&first, rest)) = rule.split_first() else {
            return Ok(());
        };
        match first {
            b'(' if rule.len() >= 2 && rule.ends_with(b")") => {
                self.add_selector(&rule[1..rule.len() - 1], env)
            }
            b'>' => {
                self.add_password_hash(sha256_hex(rest));
                Ok(())
            }
            b'#' => {
                let hash = valid_hash(rest)?;
                self.add_password_hash(hash);
                Ok(())
            }
            b'<' => self.remove_password_hash(&sha256_hex(rest)),
            b'!' => self.remove_password_hash(&valid_hash(rest)?),
            b'~' => self.add_key_pattern(rest, true, true),
            b'%' => {
                let (read, write, pattern) = parse_key_permission(rest)?;
                self.add_key_pattern(pattern, read, write)
            }
            b'&' => self.add_channel(rest),
            b'+' | b'-' if rest.first() == Some(&b'@') => {
                self.set_category(&rest[1..], first == b'+', env)
            }
            b'+' => self.allow_command(rest, env),
            b'-' => self.deny_command(rest, env),
            _ => Err(SYNTAX),
        }
    }

    fn add_password_hash(&mut self, hash: String) {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
    }

    fn remove_password_hash(&mut self, hash: &str) -> Result<(), RuleError> {
        let at = self
            .passwords
            .iter()
            .position(|p| p == hash)
            .ok_or(NO_SUCH_PASSWORD)?;
        self.passwords.remove(at);
        self.nopass = false;
        Ok(())
    }

    fn allow_all_keys(&mut self) {
        self.all_keys = true;
        self.key_patterns.clear();
    }

    fn add_key_pattern(
        &mut self,
        pattern: &[u8],
        read: bool,
        write: bool,
    ) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(KEY_AFTER_ALL);
        }
        if read && write && pattern == b"*" {
            self.allow_all_keys();
            return Ok(());
        }
        if has_space_or_nul(pattern) {
            return Err(SYNTAX);
        }
        match self.key_patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.key_patterns.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    fn allow_all_channels(&mut self) {
        self.all_channels = true;
        self.channels.clear();
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(CHANNEL_AFTER_ALL);
        }
        if has_space_or_nul(pattern) {
            return Err(SYNTAX);
        }
        if pattern == b"*" {
            self.allow_all_channels();
        } else if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    fn set_all_commands(&mut self, allow: bool) {
        self.commands = if allow { [u64::MAX; WORDS] } else { [0; WORDS] };
        self.all_commands = allow;
        self.first_args.clear();
        self.command_rules.clear();
    }

    fn set_category(
        &mut self,
        name: &[u8],
        allow: bool,
        env: &RuleEnv<'_>,
    ) -> Result<(), RuleError> {
        let name = std::str::from_utf8(name).map_err(|_| UNKNOWN_COMMAND)?;
        let name = name.to_ascii_lowercase();
        if !crate::engine::categories::CATEGORIES.contains(&name.as_str()) {
            return Err(UNKNOWN_COMMAND);
        }
        for (_, found) in env.registry.all() {
            if crate::engine::categories::categories(found.spec).contains(&name.as_str()) {
                self.change_command(found, allow, env);
            }
        }
        for found in env.registry.all_entries() {
            if found.full_name.contains('|')
                && crate::engine::categories::categories(found.spec).contains(&name.as_str())
            {
                self.set_bit(found.id, allow);
            }
        }
        self.note_rule(format!("@{name}").as_bytes(), allow);
        Ok(())
    }

    fn allow_command(&mut self, name: &[u8], env: &RuleEnv<'_>) -> Result<(), RuleError> {
        // As Redis: split at the last `|`; what is before it must be a command, not a subcommand.
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let found = lookup(env.registry, name).ok_or(UNKNOWN_COMMAND)?;
            self.change_command(found, true, env);
            self.note_rule(found.full_name.as_bytes(), true);
            return Ok(());
        };
        let parent = lookup(env.registry, &name[..bar]).ok_or(UNKNOWN_COMMAND)?;
        if parent.full_name.contains('|') {
            return Err(FIRSTARG_OF_SUB);
        }
        let arg = &name[bar + 1..];
        if arg.is_empty() {
            return Err(SYNTAX);
        }
        if !parent.spec.subcommands.is_empty() {
            let found = lookup(env.registry, name).ok_or(UNKNOWN_COMMAND)?;
            self.set_bit(found.id, true);
            self.note_rule(found.full_name.as_bytes(), true);
            return Ok(());
        }
        // A first argument of a plain command (SELECT|0): allowed as Redis still does.
        if !self.has_bit(parent.id) {
            let lowered = arg.to_ascii_lowercase();
            match self.first_args.iter_mut().find(|(id, _)| *id == parent.id) {
                Some((_, args)) if !args.contains(&lowered) => args.push(lowered),
                Some(_) => {}
                None => self.first_args.push((parent.id, vec![lowered])),
            }
        }
        // The argument's own bytes, as Redis prints them (not a lossy UTF-8 copy, which would
        // allow another argument once saved and loaded).
        let rule = [parent.full_name.as_bytes(), b"|", arg].concat();
        self.note_rule(&rule, true);
        Ok(())
    }

    fn deny_command(&mut self, name: &[u8], env: &RuleEnv<'_>) -> Result<(), RuleError> {
        let found = lookup(env.registry, name).ok_or(UNKNOWN_COMMAND)?;
        if found.full_name.contains('|') {
            self.set_bit(found.id, false);
        } else {
            self.change_command(found, false, env);
        }
        self.note_rule(found.full_name.as_bytes(), false);
        Ok(())
    }

    /// A command and all its subcommands, as Redis's `ACLChangeSelectorPerm`.
    fn change_command(&mut self, found: Found, allow: bool, env: &RuleEnv<'_>) {
        self.set_bit(found.id, allow);
        self.first_args.retain(|(id, _)| *id != found.id);
        for sub in found.spec.subcommands {
            if let Some(sub) = env.registry.get_sub(found.spec, sub.name.as_bytes()) {
                self.set_bit(sub.id, allow);
            }
        }
    }

    /// Keeps the rule list as Redis 7.2's `ACLUpdateCommandRules`: an earlier rule for the same
    /// command (or one of its `cmd|sub` rules) is dropped, the new one goes last.
    fn note_rule(&mut self, name: &[u8], allow: bool) {
        let name = name.to_ascii_lowercase();
        self.command_rules.retain(|existing| {
            let body = &existing[1..];
            !(body == name
                || (body.len() > name.len() && body.starts_with(&name) && body[name.len()] == b'|'))
        });
        let sign = if allow { b'+' } else { b'-' };
        self.command_rules.push([&[sign], name.as_slice()].concat());
    }

    fn set_bit(&mut self, id: u16, allow: bool) {
        let (word, bit) = (id as usize / 64, id as usize % 64);
        if allow {
            self.commands[word] |= 1 << bit;
        } else {
            self.commands[word] &= !(1 << bit);
        }
    }

    pub fn has_bit(&self, id: u16) -> bool {
        let (word, bit) = (id as usize / 64, id as usize % 64);
        self.commands[word] & (1 << bit) != 0
    }

    /// True when every command of `registry`, every key and every channel is allowed: such a
    /// user's commands skip the permission check.
    pub fn is_unrestricted(&self, registry: &Registry) -> bool {
        self.all_keys
            && self.all_channels
            && registry.all_entries().all(|found| self.has_bit(found.id))
    }

    /// The rules in ACL LIST's order: flags, passwords, keys, channels, commands. Bytes:
    /// patterns are binary-safe.
    pub fn describe(&self) -> Vec<u8> {
        self.describe_words().join(&b' ')
    }

    /// `describe`'s words, one rule each (a selector is one word), for ACL SAVE, which must
    /// quote a word that holds white space or quotes.
    pub fn describe_words(&self) -> Vec<Vec<u8>> {
        let mut words: Vec<Vec<u8>> = self
            .flag_names()
            .iter()
            .map(|f| f.as_bytes().to_vec())
            .collect();
        words.extend(self.passwords.iter().map(|p| format!("#{p}").into_bytes()));
        words.extend(self.describe_keys());
        if !self.all_channels {
            words.push(b"resetchannels".to_vec());
        }
        words.extend(self.describe_channels());
        words.extend(self.command_words());
        for selector in &self.selectors {
            words.push([b"(", selector.describe_permissions().as_slice(), b")"].concat());
        }
        words
    }

    /// A selector as ACL LIST shows it inside parentheses: keys, channels, commands.
    pub fn describe_permissions(&self) -> Vec<u8> {
        let mut words = self.describe_keys();
        if !self.all_channels {
            words.push(b"resetchannels".to_vec());
        }
        words.extend(self.describe_channels());
        words.push(self.describe_commands());
        words.join(&b' ')
    }

    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    pub fn describe_keys(&self) -> Vec<Vec<u8>> {
        if self.all_keys {
            return vec![b"~*".to_vec()];
        }
        self.key_patterns
            .iter()
            .map(|p| {
                let prefix: &[u8] = match (p.read, p.write) {
                    (true, false) => b"%R~",
                    (false, true) => b"%W~",
                    _ => b"~",
                };
                [prefix, &p.pattern].concat()
            })
            .collect()
    }

    pub fn describe_channels(&self) -> Vec<Vec<u8>> {
        if self.all_channels {
            return vec![b"&*".to_vec()];
        }
        self.channels
            .iter()
            .map(|c| [b"&", c.as_slice()].concat())
            .collect()
    }

    pub fn describe_commands(&self) -> Vec<u8> {
        self.command_words().join(&b' ')
    }

    fn command_words(&self) -> Vec<Vec<u8>> {
        let all: &[u8] = if self.all_commands {
            b"+@all"
        } else {
            b"-@all"
        };
        std::iter::once(all.to_vec())
            .chain(self.command_rules.iter().cloned())
            .collect()
    }
}

/// Patterns and usernames may not hold C's `isspace` characters or NUL (they would not
/// survive ACL LIST).
pub fn has_space_or_nul(pattern: &[u8]) -> bool {
    pattern
        .iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
}

/// Joins a selector written over several arguments (`(~x` `+get)`) into one rule, as Redis's
/// `ACLMergeSelectorArguments`; an unclosed one is an error naming the argument it started at.
pub fn merge_selector_args<T: AsRef<[u8]>>(args: &[T]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.as_ref();
        match open.as_mut() {
            Some((_, selector)) => {
                selector.push(b' ');
                selector.extend_from_slice(arg);
                if arg.last() == Some(&b')') {
                    merged.push(open.take().expect("open selector").1);
                }
            }
            None if arg.first() == Some(&b'(') && arg.last() != Some(&b')') => {
                open = Some((i, arg.to_vec()));
            }
            None => merged.push(arg.to_vec()),
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

/// `cmd` or `cmd|sub`, any case.
fn lookup(registry: &Registry, name: &[u8]) -> Option<Found> {
    match name.iter().position(|&b| b == b'|') {
        None => registry.get(name),
        Some(bar) => {
            let parent = registry.get(&name[..bar])?;
            registry.get_sub(parent.spec, &name[bar + 1..])
        }
    }
}

/// `%R~`, `%W~`, `%RW~` (each letter once, any case) before a key pattern.
fn parse_key_permission(rest: &[u8]) -> Result<(bool, bool, &[u8]), RuleError> {
    let (mut read, mut write) = (false, false);
    for (i, &c) in rest.iter().enumerate() {
        match c.to_ascii_uppercase() {
            b'R' if !read => read = true,
            b'W' if !write => write = true,
            b'~' if read || write => return Ok((read, write, &rest[i + 1..])),
            _ => return Err(SYNTAX),
        }
    }
    // Redis accepts a missing `~` as an empty pattern (`%R` shows as `%R~`).
    if read || write {
        return Ok((read, write, &[]));
    }
    Err(SYNTAX)
}

fn valid_hash(hex: &[u8]) -> Result<String, RuleError> {
    let ok = hex.len() == 64 && hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(BAD_HASH);
    }
    Ok(String::from_utf8_lossy(hex).into_owned())
}

/// A password as ACL stores it: SHA-256 in lower-case hex.
pub fn sha256_hex(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(rules: &mut UserRules, registry: &Registry, words: &[&str]) {
        let env = RuleEnv {
            registry,
            all_channels_by_default: false,
        };
        for w in words {
            rules.apply(w.as_bytes(), &env).unwrap();
        }
    }

    #[test]
    fn command_rules_keep_their_order_and_replace_earlier_ones() {
        let registry = Registry::new(crate::commands::TABLES, &[]);
        let mut rules = UserRules::new(false);
        apply_all(
            &mut rules,
            &registry,
            &["+@read", "+config|get", "-get", "+CONFIG", "+get"],
        );
        assert_eq!(rules.describe_commands(), b"-@all +@read +config +get");
        apply_all(&mut rules, &registry, &["+@all", "-@dangerous"]);
        assert_eq!(rules.describe_commands(), b"+@all -@dangerous");
    }

    #[test]
    fn subcommand_bits_follow_their_parent() {
        let registry = Registry::new(crate::commands::TABLES, &[]);
        let config = registry.get(b"config").unwrap();
        let get = registry.get_sub(config.spec, b"get").unwrap();
        let set = registry.get_sub(config.spec, b"set").unwrap();
        let mut rules = UserRules::new(false);
        apply_all(&mut rules, &registry, &["+config", "-config|set"]);
        assert!(rules.has_bit(get.id) && !rules.has_bit(set.id));
        apply_all(&mut rules, &registry, &["-config"]);
        assert!(!rules.has_bit(get.id));
    }

    #[test]
    fn key_permission_prefixes() {
        assert_eq!(parse_key_permission(b"R~a*"), Ok((true, false, &b"a*"[..])));
        assert_eq!(parse_key_permission(b"wR~x"), Ok((true, true, &b"x"[..])));
        assert_eq!(parse_key_permission(b"R"), Ok((true, false, &b""[..])));
        assert_eq!(parse_key_permission(b"~x"), Err(SYNTAX));
        assert_eq!(parse_key_permission(b"RR~x"), Err(SYNTAX));
    }

    #[test]
    fn superuser_is_unrestricted_until_a_command_is_removed() {
        let registry = Registry::new(crate::commands::TABLES, &[]);
        let mut rules = UserRules::superuser();
        assert!(rules.is_unrestricted(&registry));
        apply_all(&mut rules, &registry, &["-flushall"]);
        assert!(!rules.is_unrestricted(&registry));
        assert_eq!(rules.describe(), b"on nopass ~* &* +@all -flushall");
    }

    #[test]
    fn selectors_merge_over_arguments_and_describe_in_parentheses() {
        let merged = merge_selector_args(&["on", "(~x", "+get)", "(&c)", "~y"]).unwrap();
        assert_eq!(
            merged,
            vec![
                b"on".to_vec(),
                b"(~x +get)".to_vec(),
                b"(&c)".to_vec(),
                b"~y".to_vec()
            ]
        );
        assert_eq!(merge_selector_args(&["(~x", "+get"]), Err(0));
        let registry = Registry::new(crate::commands::TABLES, &[]);
        let mut rules = UserRules::new(false);
        apply_all(&mut rules, &registry, &["(~x +get)"]);
        assert_eq!(
            rules.describe(),
            b"off resetchannels -@all (~x resetchannels -@all +get)"
        );
        let env = RuleEnv {
            registry: &registry,
            all_channels_by_default: false,
        };
        assert_eq!(rules.apply(b"(~x on)", &env), Err(SYNTAX));
        apply_all(&mut rules, &registry, &["clearselectors"]);
        assert!(rules.selectors.is_empty());
    }

    #[test]
    fn passwords_are_sha256() {
        assert_eq!(
            sha256_hex(b"pw"),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
    }
}
