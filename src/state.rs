//! `ServerState`: what every command shares — keyspace, live config, counters, the client
//! registry, the clock. Built once by `server.rs` and passed down by reference.

use crate::clients::ClientRegistry;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::registry::{Registry, Table};
use crate::keyspace::Keyspace;
use crate::stats::ServerStats;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;
use tokio::sync::watch;

pub struct ServerState {
    pub keyspace: Keyspace,
    pub config: Config,
    pub stats: ServerStats,
    pub clients: ClientRegistry,
    pub registry: Registry,
    pub clock: Clock,
    pub started: Instant,
    pub started_unix_ms: u64,
    pub run_id: String,
    /// The TCP port actually bound (differs from the `port` option when it is 0; 0 when there
    /// is no plaintext listener), kept current by net's listeners.
    pub bound_port: AtomicU64,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub last_save_unix: AtomicU64,
    pub executable: String,
    /// Signalled to stop the server (SHUTDOWN, SIGTERM); carries whether to exit.
    pub shutdown: watch::Sender<bool>,
    /// Shared and exclusive sections of command execution (see gate.rs).
    pub gate: crate::gate::Gate,
    /// Lua scripting: the VM, the script cache and the running script's BUSY state.
    pub scripting: crate::scripting::Scripting,
    /// Pub/Sub channels, patterns and MONITOR clients.
    pub pubsub: crate::pubsub::PubSub,
    /// Clients blocked on keys (BLPOP ...) and the keys ready to serve them.
    pub blocking: crate::engine::waiters::Blocking,
    /// Who reacts to writes (blocked clients, tracking, WATCH): see write_listeners.rs.
    pub writes: std::sync::Arc<crate::write_listeners::WriteListeners>,
    /// SLOWLOG entries and LATENCY time series.
    pub observability: crate::observability::Observability,
    /// The append-only file: effects log, writer, rewrite state.
    pub aof: std::sync::Arc<crate::aof::Aof>,
    /// This state's own `Arc`, for work a command hands to a thread (AOF rewrite).
    self_ref: std::sync::OnceLock<std::sync::Weak<ServerState>>,
    /// What rebinds the listeners after CONFIG SET (net's, handed in by `server::run`).
    listener_config: std::sync::OnceLock<Box<dyn ListenerConfig>>,
    /// RDB save bookkeeping (INFO persistence, LASTSAVE, save points, MISCONF).
    pub rdb: crate::rdb::RdbState,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// Role, replication ids and offset (replication/).
    pub replication: crate::replication::Replication,
    /// Emulated cluster mode: on or off, the node id (cluster/).
    pub cluster: crate::cluster::Cluster,
    /// CLIENT PAUSE: the pause in force and the queue of held requests.
    pub pause: crate::pause::ClientPause,
    /// The maxmemory step: the over-limit clock and the background eviction thread.
    pub evictor: crate::engine::evictor::Evictor,
    pub debug: DebugSwitches,
    /// The memcached protocol's CAS uniques and counters.
    pub memcache: crate::memcache::Memcache,
}

/// Applies a CONFIG SET that changed listener or TLS options (`net::listener` implements it;
/// `server::run` hands it in, so CONFIG, a command, never reaches into the front end).
pub trait ListenerConfig: Send + Sync {
    /// `changed` holds each changed option with its previous value; an error names the option
    /// to blame with Redis's reason (the caller restores the previous values).
    fn apply(
        &self,
        state: &ServerState,
        changed: &[(&'static str, String)],
    ) -> Result<(), (&'static str, &'static str)>;
}

/// What DEBUG switches for test suites: SET-ACTIVE-EXPIRE 0 and PAUSE-CRON 1 (both read by
/// the active-expiry task).
#[derive(Default)]
pub struct DebugSwitches {
    pub active_expire_off: AtomicBool,
    pub cron_paused: AtomicBool,
}

impl ServerState {
    /// `commands`: the command families' tables (`commands::TABLES`), handed in so the state
    /// (which every module sees) does not depend on the command families.
    pub fn new(config: Config, clock: Clock, commands: &[Table]) -> ServerState {
        let databases = config.get_i64("databases").max(1) as usize;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let shards = (workers * 4).max(16);
        let registry = Registry::new(commands, &config.renamed_commands);
        let now_ms = clock.now_ms();
        let acl = crate::acl::Acl::new(&config, &registry);
        let cluster = crate::cluster::Cluster::new(config.get_bool("cluster-enabled"), now_ms);
        let keyspace = Keyspace::new(databases, shards);
        if cluster.enabled() {
            keyspace.index_slots();
        }
        let replication = crate::replication::Replication::new(now_ms);
        let aof = std::sync::Arc::new(crate::aof::Aof::default());
        aof.attach_feed(replication.feed.clone());
        aof.attach_keyspace(keyspace.tunables.clone());
        let pause = crate::pause::ClientPause::default();
        pause.attach_keyspace(keyspace.tunables.clone());
        let writes = std::sync::Arc::new(crate::write_listeners::WriteListeners::default());
        let mut pubsub = crate::pubsub::PubSub::default();
        pubsub.tracking.attach_listeners(writes.clone());
        let mut blocking = crate::engine::waiters::Blocking::default();
        blocking.attach_listeners(writes.clone());
        let state = ServerState {
            keyspace,
            config,
            stats: ServerStats::default(),
            clients: ClientRegistry::default(),
            registry,
            clock,
            started: Instant::now(),
            started_unix_ms: now_ms,
            run_id: make_run_id(now_ms),
            bound_port: AtomicU64::new(0),
            last_save_unix: AtomicU64::new(now_ms / 1000),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            shutdown: watch::channel(false).0,
            gate: Default::default(),
            scripting: crate::scripting::Scripting::default(),
            pubsub,
            observability: Default::default(),
            aof,
            self_ref: std::sync::OnceLock::new(),
            listener_config: std::sync::OnceLock::new(),
            rdb: Default::default(),
            blocking,
            writes,
            acl,
            replication,
            cluster,
            pause,
            evictor: Default::default(),
            debug: Default::default(),
            memcache: Default::default(),
        };
        state.sync_keyspace_tunables();
        state
    }

    /// Copies what the keyspace reads from the configuration into its tunables: the LFU
    /// parameters, the eviction tier, per-prefix stats, and whether expired keys are kept for
    /// `expired` events. Called when the state is built and after every CONFIG SET.
    pub fn sync_keyspace_tunables(&self) {
        let t = &self.keyspace.tunables;
        let config = &self.config;
        let num = |name: &str| config.get_i64(name).clamp(0, u32::MAX as i64) as u32;
        t.lfu.set(num("lfu-log-factor"), num("lfu-decay-time"));
        t.tiers.configure(&config.get("maxmemory-evict-first"));
        t.prefixes.configure(
            &config.get("keyspace-stats-prefixes"),
            &config.get("keyspace-stats-separator"),
        );
        use crate::pubsub::notify::{EXPIRED, KEYEVENT, KEYSPACE};
        let notify = config
            .hot
            .notify_keyspace_events
            .load(std::sync::atomic::Ordering::Relaxed);
        t.expiry.set_expired_keys_recorded(
            notify & EXPIRED != 0 && notify & (KEYSPACE | KEYEVENT) != 0,
        );
    }

    /// What the RDB's saves and loads use of the server.
    pub fn rdb_handle(&self) -> crate::rdb::Handle<'_> {
        crate::rdb::Handle {
            keyspace: &self.keyspace,
            config: &self.config,
            clock: &self.clock,
            rdb: &self.rdb,
            dirty: &self.stats.dirty,
            last_save_unix: &self.last_save_unix,
            gate: &self.gate,
            functions: &self.scripting.functions,
        }
    }

    /// What Pub/Sub, MONITOR, keyspace notifications and tracking deliveries use of the server.
    #[inline]
    pub fn pubsub_handle(&self) -> crate::pubsub::Handle<'_> {
        crate::pubsub::Handle {
            pubsub: &self.pubsub,
            config: &self.config,
            clock: &self.clock,
            stats: &self.stats,
            clients: &self.clients,
        }
    }

    /// What the slow log and latency hooks use of the server.
    #[inline]
    pub fn observability_handle(&self) -> crate::observability::Handle<'_> {
        crate::observability::Handle {
            observability: &self.observability,
            config: &self.config,
            clock: &self.clock,
            busy: &self.scripting.busy,
        }
    }

    /// What the AOF's load, rewrite and CONFIG SET use of the server.
    pub fn aof_handle(&self) -> crate::aof::Handle<'_> {
        crate::aof::Handle {
            aof: &self.aof,
            keyspace: &self.keyspace,
            config: &self.config,
            clock: &self.clock,
            gate: &self.gate,
            functions: &self.scripting.functions,
            clients: &self.clients,
            registry: &self.registry,
        }
    }

    /// What replication uses of the server (its callbacks: `replication::Host`, in server.rs).
    pub fn replication_handle(&self) -> crate::replication::Handle<'_> {
        crate::replication::Handle {
            replication: &self.replication,
            config: &self.config,
            clock: &self.clock,
            aof: &self.aof,
            pause: &self.pause,
            clients: &self.clients,
            keyspace: &self.keyspace,
            gate: &self.gate,
            busy: &self.scripting.busy,
            rdb: &self.rdb,
            functions: &self.scripting.functions,
            shutdown: &self.shutdown,
            server: self,
        }
    }

    /// What the blocked-client registry counts an unserved blocked call with.
    pub fn blocked_counts(&self) -> crate::engine::waiters::Counts<'_> {
        crate::engine::waiters::Counts {
            registry: &self.registry,
            stats: &self.stats,
        }
    }

    /// The plaintext TCP port bound now (0: none): what CLUSTER announces and saves.
    pub fn tcp_port(&self) -> u16 {
        self.bound_port.load(std::sync::atomic::Ordering::Relaxed) as u16
    }

    /// Hands in what rebinds the listeners (done once by `server::run`).
    pub fn set_listener_config(&self, rebind: Box<dyn ListenerConfig>) {
        let _ = self.listener_config.set(rebind);
    }

    /// Rebinds the listeners after a CONFIG SET of their options; nothing to do when no
    /// server runs (unit tests: nothing is bound).
    pub fn apply_listener_config(
        &self,
        changed: &[(&'static str, String)],
    ) -> Result<(), (&'static str, &'static str)> {
        match self.listener_config.get() {
            Some(rebind) => rebind.apply(self, changed),
            None => Ok(()),
        }
    }

    /// Records the `Arc` this state lives in (done once by `server::run`).
    pub fn set_self_arc(self: &std::sync::Arc<Self>) {
        let _ = self.self_ref.set(std::sync::Arc::downgrade(self));
    }

    /// The `Arc` this state lives in, when it was recorded.
    pub fn self_arc(&self) -> Option<std::sync::Arc<ServerState>> {
        self.self_ref.get().and_then(std::sync::Weak::upgrade)
    }
}

impl crate::aof::Host for ServerState {
    fn aof_handle(&self) -> crate::aof::Handle<'_> {
        ServerState::aof_handle(self)
    }
}

impl crate::rdb::Host for ServerState {
    fn rdb_handle(&self) -> crate::rdb::Handle<'_> {
        ServerState::rdb_handle(self)
    }
}

/// A 40-hex-character run id, as Redis reports in INFO server.
fn make_run_id(seed: u64) -> String {
    use std::hash::BuildHasher;
    let state = foldhash::fast::RandomState::default();
    let mut out = String::with_capacity(40);
    let mut i = 0u64;
    while out.len() < 40 {
        let h = state.hash_one((seed, i, std::process::id()));
        out.push_str(&format!("{h:016x}"));
        i += 1;
    }
    out.truncate(40);
    out
}
