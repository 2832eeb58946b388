//! Access control lists, as Redis 7.2's ACL: a table of users, each with flags, SHA-256
//! password hashes and permissions over commands, keys and Pub/Sub channels; the ACL LOG of
//! refusals; users from redis.conf `user` lines or an `aclfile`.
//!
//! A connection holds an `Arc<User>` (the `default` user until AUTH). ACL SETUSER changes a user
//! in place, so its connections see the new rules at their next command. Dispatch asks
//! `User::is_unrestricted` first: one relaxed atomic load, true for a user allowed everything
//! (the default user as shipped), and only otherwise takes the rules' read lock and checks.
//! See docs/security.md.

pub mod check;
pub mod file;
pub mod log;
pub mod rules;

use crate::clients::ClientRegistry;
use crate::config::Config;
use crate::engine::registry::{Found, Registry};
use crate::engine::ClientState;
use bytes::Bytes;
use parking_lot::RwLock;
use rules::{RuleEnv, RuleError, UserRules};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

pub use check::Denied;
pub use log::{Context, Reason};

/// One ACL user. The name never changes; the rules do.
#[derive(Debug)]
pub struct User {
    pub name: Vec<u8>,
    rules: RwLock<UserRules>,
    /// Mirrors `rules.is_unrestricted()` for the hot path.
    unrestricted: AtomicBool,
}

impl User {
    fn new(name: &[u8], rules: UserRules, registry: &Registry) -> User {
        let user = User {
            name: name.to_vec(),
            unrestricted: AtomicBool::new(false),
            rules: RwLock::new(UserRules::new(false)),
        };
        user.replace_rules(rules, registry);
        user
    }

    /// True when this user may run anything on any key and channel: no check needed.
    #[inline]
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Relaxed)
    }

    pub fn rules(&self) -> UserRules {
        self.rules.read().clone()
    }

    fn replace_rules(&self, rules: UserRules, registry: &Registry) {
        let unrestricted = rules.is_unrestricted(registry);
        *self.rules.write() = rules;
        self.unrestricted.store(unrestricted, Ordering::Relaxed);
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Checks a call against this user's rules.
    pub fn check(&self, found: &Found, argv: &[Bytes]) -> Result<(), Denied> {
        check::check(&self.rules.read(), found, argv)
    }

    /// `password` opens this user: enabled, and `nopass` or a matching hash.
    fn accepts(&self, password: &[u8]) -> bool {
        let rules = self.rules.read();
        if !rules.enabled {
            return false;
        }
        if rules.nopass {
            return true;
        }
        let hash = rules::sha256_hex(password);
        // Compare every stored hash fully, so timing says nothing about which one matched.
        rules.passwords.iter().fold(false, |found, p| {
            found | constant_time_eq(p.as_bytes(), hash.as_bytes())
        })
    }
}

/// The user of connections that never authenticate (AOF loading, scripts' internal client
/// before a caller is known): allowed everything.
pub fn internal_user() -> Arc<User> {
    static INTERNAL: LazyLock<Arc<User>> = LazyLock::new(|| {
        Arc::new(User {
            name: b"default".to_vec(),
            rules: RwLock::new(UserRules::superuser()),
            unrestricted: AtomicBool::new(true),
        })
    });
    INTERNAL.clone()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user table, the ACL LOG and whether new connections start authenticated.
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    default_user: Arc<User>,
    /// The default user has a password or is off: new connections must AUTH.
    default_needs_auth: AtomicBool,
    /// The default user is `nopass` (enabled or not): what protected mode looks at.
    default_nopass: AtomicBool,
    pub log: log::AclLog,
    /// INFO stats `acl_access_denied_*`, indexed by `Reason as usize`.
    denied: [AtomicU64; 4],
    /// `acllog-max-len`, kept in step by `config_changed`.
    log_max_len: AtomicUsize,
}

impl Acl {
    /// The `default` user, with `requirepass` applied as Redis does at start-up.
    pub fn new(config: &Config, registry: &Registry) -> Acl {
        let default_user = Arc::new(User::new(b"default", UserRules::superuser(), registry));
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), default_user.clone());
        let acl = Acl {
            users: RwLock::new(users),
            default_user,
            default_needs_auth: AtomicBool::new(false),
            default_nopass: AtomicBool::new(true),
            log: log::AclLog::default(),
            denied: Default::default(),
            log_max_len: AtomicUsize::new(log_max_len(config)),
        };
        acl.apply_requirepass(&config.get("requirepass"), registry);
        acl
    }

    /// Refusals and failed AUTHs of one kind since start (or CONFIG RESETSTAT).
    pub fn denied(&self, reason: Reason) -> u64 {
        self.denied[reason as usize].load(Ordering::Relaxed)
    }

    pub fn reset_stats(&self) {
        for counter in &self.denied {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub fn default_user(&self) -> Arc<User> {
        self.default_user.clone()
    }

    /// Redis's `authRequired` for a connection that has not authenticated.
    pub fn default_needs_auth(&self) -> bool {
        self.default_needs_auth.load(Ordering::Relaxed)
    }

    /// Protected mode refuses non-loopback clients while this holds (Redis checks `nopass`
    /// only, so a disabled `nopass` default user still counts).
    pub fn default_is_nopass(&self) -> bool {
        self.default_nopass.load(Ordering::Relaxed)
    }

    fn refresh_default_needs_auth(&self) {
        let rules = self.default_user.rules.read();
        self.default_needs_auth
            .store(!(rules.nopass && rules.enabled), Ordering::Relaxed);
        self.default_nopass.store(rules.nopass, Ordering::Relaxed);
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, sorted by name as Redis's table is.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// `requirepass`: the default user's password is replaced (empty: `nopass`).
    pub fn apply_requirepass(&self, password: &str, registry: &Registry) {
        let mut rules = self.default_user.rules();
        rules.passwords.clear();
        if password.is_empty() {
            rules.nopass = true;
        } else {
            rules.nopass = false;
            rules.passwords.push(rules::sha256_hex(password.as_bytes()));
        }
        self.default_user.replace_rules(rules, registry);
        self.refresh_default_needs_auth();
    }

    /// ACL SETUSER: applies every rule to a copy and stores it only if all succeed. Returns the
    /// failing rule's index and reason.
    pub fn set_user(
        &self,
        name: &[u8],
        rules_text: &[Vec<u8>],
        env: &RuleEnv<'_>,
    ) -> Result<(), (usize, RuleError)> {
        let existing = self.get(name);
        let mut rules = match &existing {
            Some(user) => user.rules(),
            None => UserRules::new(env.all_channels_by_default),
        };
        for (i, rule) in rules_text.iter().enumerate() {
            rules.apply(rule, env).map_err(|e| (i, e))?;
        }
        match existing {
            Some(user) => user.replace_rules(rules, env.registry),
            None => {
                let user = Arc::new(User::new(name, rules, env.registry));
                self.users.write().insert(name.to_vec(), user);
            }
        }
        if name == b"default" {
            self.refresh_default_needs_auth();
        }
        Ok(())
    }

    /// Removes a user (never `default`); returns it so its connections can be closed.
    pub fn remove_user(&self, name: &[u8]) -> Option<Arc<User>> {
        if name == b"default" {
            return None;
        }
        self.users.write().remove(name)
    }

    /// Replaces every user with `loaded` (ACL LOAD, start-up). The default user keeps its
    /// identity, so its connections stay; it gets the loaded rules, or Redis's defaults when
    /// the file does not mention it. Returns the users that went away.
    pub fn replace_all(
        &self,
        loaded: Vec<(Vec<u8>, UserRules)>,
        registry: &Registry,
    ) -> Vec<Arc<User>> {
        let mut table = BTreeMap::new();
        let mut default_rules = UserRules::superuser();
        for (name, rules) in loaded {
            if name == b"default" {
                default_rules = rules;
            } else {
                table.insert(name.clone(), Arc::new(User::new(&name, rules, registry)));
            }
        }
        self.default_user.replace_rules(default_rules, registry);
        table.insert(b"default".to_vec(), self.default_user.clone());
        let old = std::mem::replace(&mut *self.users.write(), table);
        self.refresh_default_needs_auth();
        old.into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default_user))
            .collect()
    }

    /// The user a name and password open, if any.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let user = self.get(name)?;
        user.accepts(password).then_some(user)
    }
}

/// `acllog-max-len` as a length.
fn log_max_len(config: &Config) -> usize {
    config.get_i64("acllog-max-len").max(0) as usize
}

/// The environment SETUSER rules are applied in.
pub fn rule_env<'a>(registry: &'a Registry, config: &Config) -> RuleEnv<'a> {
    RuleEnv {
        registry,
        all_channels_by_default: config.get("acl-pubsub-default") == "allchannels",
    }
}

/// Closes every connection authenticated as `user` (DELUSER, ACL LOAD).
pub fn disconnect_clients_of(clients: &ClientRegistry, client: &mut ClientState, user: &Arc<User>) {
    if Arc::ptr_eq(&client.user, user) {
        client.close_after_reply = true;
    }
    let name = user.name_lossy();
    for info in clients.matching(|c| c.details.lock().user == name) {
        if info.id != client.id {
            info.kill();
        }
    }
}

/// After ACL SETUSER: closes the user's connections subscribed to a channel or pattern the
/// new rules refuse, as Redis 7 does.
pub fn disconnect_refused_subscribers(
    clients: &ClientRegistry,
    pubsub: &crate::pubsub::PubSub,
    client: &mut ClientState,
    user: &User,
) {
    let rules = user.rules.read().clone();
    if rules.all_channels {
        return;
    }
    let refused = pubsub
        .subscribers_refused(|name, is_pattern| check::channel_allowed(&rules, name, is_pattern));
    if refused.is_empty() {
        return;
    }
    let name = user.name_lossy();
    for id in refused {
        if id == client.id {
            if client.user.name == user.name {
                client.close_after_reply = true;
            }
        } else if let Some(info) = clients.get(id) {
            if info.details.lock().user == name {
                info.kill();
            }
        }
    }
}

/// Called after CONFIG SET changed an option.
pub fn config_changed(acl: &Acl, config: &Config, registry: &Registry, name: &str) {
    match name {
        "requirepass" => acl.apply_requirepass(&config.get("requirepass"), registry),
        "acllog-max-len" => {
            let max_len = log_max_len(config);
            acl.log_max_len.store(max_len, Ordering::Relaxed);
            acl.log.trim(max_len);
        }
        _ => {}
    }
}

/// Users from `aclfile` or redis.conf `user` lines, before clients are accepted.
pub fn load_at_startup(acl: &Acl, config: &Config, registry: &Registry) -> Result<(), String> {
    let aclfile = config.get("aclfile");
    let lines = &config.user_lines;
    if !aclfile.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let env = rule_env(registry, config);
    if !aclfile.is_empty() {
        let users = file::load(&env, &aclfile)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        acl.replace_all(users, registry);
        return Ok(());
    }
    if lines.is_empty() {
        return Ok(());
    }
    let users = file::parse_config_lines(&env, lines)?;
    // Users from redis.conf start from the table the requirepass left, as in Redis.
    let requirepass = config.get("requirepass");
    let mentions_default = users.iter().any(|(n, _)| n == b"default");
    acl.replace_all(users, registry);
    if !mentions_default {
        acl.apply_requirepass(&requirepass, registry);
    }
    Ok(())
}

/// Dispatch's check before a command runs or is queued: `None` when the client's user may
/// run it; otherwise the refusal is logged (at `now_ms`) and the NOPERM reply returned, worded
/// as Redis 7.2.
pub fn refusal(
    acl: &Acl,
    now_ms: u64,
    client: &mut ClientState,
    found: &Found,
    argv: &[Bytes],
) -> Option<crate::protocol::Reply> {
    let denied = client.user.check(found, argv).err()?;
    let context = if client.multi.is_some() {
        Context::Multi
    } else {
        Context::TopLevel
    };
    log_refusal(acl, now_ms, client, found, argv, denied, context);
    Some(crate::protocol::Reply::error(format!(
        "NOPERM {}",
        denied_message(&client.user, found, argv, denied, false)
    )))
}

/// EXEC's second check (rules may have changed since queuing), with Redis's EXEC wording.
pub fn exec_refusal(
    acl: &Acl,
    now_ms: u64,
    client: &mut ClientState,
    found: &Found,
    argv: &[Bytes],
) -> Option<crate::protocol::Reply> {
    if client.user.is_unrestricted() {
        return None;
    }
    let denied = client.user.check(found, argv).err()?;
    log_refusal(acl, now_ms, client, found, argv, denied, Context::Multi);
    let reason = match denied {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
    };
    Some(crate::protocol::Reply::error(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")))
}

/// A script's `redis.call` check: the error text for the script, as Redis 7.2.
pub fn script_refusal(
    acl: &Acl,
    now_ms: u64,
    client: &mut ClientState,
    found: &Found,
    argv: &[Bytes],
) -> Option<String> {
    if client.user.is_unrestricted() {
        return None;
    }
    let denied = client.user.check(found, argv).err()?;
    log_refusal(acl, now_ms, client, found, argv, denied, Context::Lua);
    Some(format!(
        "ERR ACL failure in script: {}",
        denied_message(&client.user, found, argv, denied, false)
    ))
}

/// Redis 7.2's `getAclErrorMessage`; `verbose` (ACL DRYRUN) names the key or channel.
pub fn denied_message(
    user: &User,
    found: &Found,
    argv: &[Bytes],
    denied: Denied,
    verbose: bool,
) -> String {
    let name = user.name_lossy();
    match denied {
        Denied::Command => format!(
            "User {name} has no permissions to run the '{}' command",
            found.full_name
        ),
        Denied::Key(i) if verbose => format!(
            "User {name} has no permissions to access the '{}' key",
            String::from_utf8_lossy(&argv[i])
        ),
        Denied::Key(_) => "No permissions to access a key".into(),
        Denied::Channel(i) if verbose => format!(
            "User {name} has no permissions to access the '{}' channel",
            String::from_utf8_lossy(&argv[i])
        ),
        Denied::Channel(_) => "No permissions to access a channel".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn log_refusal(
    acl: &Acl,
    now_ms: u64,
    client: &mut ClientState,
    found: &Found,
    argv: &[Bytes],
    denied: Denied,
    context: Context,
) {
    let (reason, object): (Reason, &[u8]) = match denied {
        Denied::Command => (Reason::Command, found.full_name.as_bytes()),
        Denied::Key(i) => (Reason::Key, &argv[i]),
        Denied::Channel(i) => (Reason::Channel, &argv[i]),
    };
    let user = client.user.clone();
    add_log_entry(acl, now_ms, client, reason, context, object, &user.name);
}

/// A failed AUTH or HELLO AUTH: logged under the name that was tried, as Redis does.
pub fn log_auth_failure(acl: &Acl, now_ms: u64, client: &mut ClientState, username: &[u8]) {
    let context = if client.multi.is_some() {
        Context::Multi
    } else {
        Context::TopLevel
    };
    add_log_entry(
        acl,
        now_ms,
        client,
        Reason::Auth,
        context,
        b"AUTH",
        username,
    );
}

fn add_log_entry(
    acl: &Acl,
    now_ms: u64,
    client: &ClientState,
    reason: Reason,
    context: Context,
    object: &[u8],
    username: &[u8],
) {
    acl.denied[reason as usize].fetch_add(1, Ordering::Relaxed);
    let max_len = acl.log_max_len.load(Ordering::Relaxed);
    let refusal = log::Refusal {
        reason,
        context,
        object,
        username,
    };
    acl.log.add(refusal, now_ms, max_len, || {
        let own = client.own_view(client.last_cmd, &[]);
        crate::clients::client_line(&client.info, Some(&own), now_ms)
    });
}
