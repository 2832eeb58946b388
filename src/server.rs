//! Start-up and shutdown: bind, spawn the accept loops and background tasks (active expiry,
//! statistics sampling), run until SHUTDOWN or a signal.

use crate::error::ServerError;
use crate::keyspace::expiry;
use crate::net::listener;
use crate::pubsub::notify;
use crate::state::ServerState;
use crate::stats::ServerStats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Runs the server until it is told to stop. Returns the process exit code.
pub async fn run(state: Arc<ServerState>) -> Result<i32, ServerError> {
    // Subscribed before any client can connect: a SHUTDOWN that came before a later subscribe
    // would already count as seen and never wake this task.
    let mut shutdown = state.shutdown.subscribe();
    state.set_self_arc();
    // The listening sockets belong to the front end: the state reaches them only through the
    // CONFIG SET hook handed in here.
    let listeners = Arc::new(listener::Listeners::default());
    state.set_listener_config(Box::new(listener::ConfigRebind(listeners.clone())));
    // Like redis-server, the data is loaded before clients are accepted.
    {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            crate::aof::load::open_at_startup(state.aof_handle(), |client, argv| {
                crate::engine::dispatch::execute(&state, client, argv)
            })
        })
        .await
        .map_err(|e| ServerError::Config(e.to_string()))?
        .map_err(ServerError::Config)?;
    }
    crate::rdb::load_at_startup(&state.rdb_handle()).map_err(ServerError::Config)?;
    crate::acl::load_at_startup(&state.acl, &state.config, &state.registry)
        .map_err(ServerError::Config)?;
    crate::cluster::load_at_startup(&state.cluster, &state.config).map_err(ServerError::Config)?;
    listener::start(&state, &listeners)?;
    // `replicaof host port`: the link starts once the data is loaded and the port is bound.
    if let Some((host, port)) = state.config.get("replicaof").split_once(' ') {
        if let Some(why) = crate::replication::replica::unsupported(&state.config) {
            return Err(ServerError::Config(why.to_string()));
        }
        let port = port.parse().unwrap_or(0);
        crate::replication::replica::replicate(state.clone(), host, port, true);
    }
    crate::cluster::save_config(&state.cluster, &state.config, listeners.tcp_port())
        .map_err(ServerError::Config)?;
    tokio::spawn(active_expiry_task(state.clone()));
    tokio::spawn(sampler_task(state.clone()));
    tokio::spawn(crate::aof::rewrite::auto_rewrite_task(state.clone()));
    tokio::spawn(crate::rdb::cron_task(state.clone()));
    let metrics = Arc::new(MetricsHost {
        state: state.clone(),
        listeners: listeners.clone(),
    });
    if let Some(port) = crate::net::metrics::start(metrics).await? {
        tracing::info!(
            "Metrics endpoint on http://{}:{port}/metrics",
            state.config.get("metrics-bind")
        );
    }
    if let Some(port) = crate::net::memcache::start(&state, &listeners).await? {
        let tls = if state.config.get_bool("memcached-tls") {
            " (tls)"
        } else {
            ""
        };
        tracing::info!("memcached protocol on port {port}{tls}");
    }
    crate::commands::server::info::note_startup_memory(&state);
    use tokio::signal::unix::{signal, SignalKind};
    // Installed before the ready lines, so a SIGTERM right after them saves and exits as a later
    // one does instead of taking the default action. Created once: a signal that arrives while
    // the loop is busy elsewhere is kept for the next `recv` (a second SIGINT while a script runs
    // must not be lost).
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    if listeners.tcp_port() != 0 {
        tracing::info!(
            "Ready to accept connections tcp (port {})",
            listeners.tcp_port()
        );
    }
    if listeners.tls_port() != 0 {
        tracing::info!(
            "Ready to accept connections tls (port {})",
            listeners.tls_port()
        );
    }
    let unix = state.config.get("unixsocket");
    if !unix.is_empty() {
        tracing::info!("The server is now ready to accept connections at {unix}");
    }

    async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
        match signal.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        let name = tokio::select! {
            _ = next(&mut int) => "SIGINT",
            _ = next(&mut term) => "SIGTERM",
            _ = shutdown.changed() => break,
        };
        tracing::warn!("Received {name} scheduling shutdown...");
        // Redis runs the scheduled shutdown once the running script ends (killed or finished);
        // the server keeps answering meanwhile. A second SIGINT exits now.
        if state.gate.is_held() {
            tokio::select! {
                _ = state.gate.wait_idle() => {}
                _ = next(&mut int) => {
                    tracing::warn!("You insist... exiting now.");
                    std::process::exit(1);
                }
                _ = shutdown.changed() => break,
            }
        }
        if signal_shutdown_saves(&state, name).await {
            break;
        }
    }
    let _ = state.shutdown.send(true);
    listeners.close_all();
    // Everything logged is written and fsynced before the process exits.
    {
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || state.aof.stop()).await;
    }
    tracing::warn!("ferrocache is now ready to exit, bye bye...");
    Ok(0)
}

/// The save a SIGTERM/SIGINT makes before exiting (`shutdown-on-sigterm` / `-sigint`: save,
/// nosave, force; by default a save when save points are configured). False when the save
/// failed and the server must keep running, as Redis does.
async fn signal_shutdown_saves(state: &Arc<ServerState>, signal: &str) -> bool {
    let option = if signal == "SIGINT" {
        "shutdown-on-sigint"
    } else {
        "shutdown-on-sigterm"
    };
    let flags = state.config.get(option);
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let mode = if has("nosave") {
        crate::rdb::ShutdownSave::NoSave
    } else if has("save") {
        crate::rdb::ShutdownSave::Save
    } else {
        crate::rdb::ShutdownSave::Default
    };
    let saver = state.clone();
    let saved = tokio::task::spawn_blocking(move || {
        crate::rdb::save_on_shutdown(&saver.rdb_handle(), mode)
    })
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    saved || has("force")
}

/// Runs an active-expiry cycle `hz` times per second within the CPU budget.
async fn active_expiry_task(state: Arc<ServerState>) {
    let mut next_shard = 0usize;
    loop {
        let hz = state.config.hot.hz.load(Ordering::Relaxed).max(1);
        tokio::time::sleep(Duration::from_micros(1_000_000 / hz)).await;
        if state.debug.active_expire_off.load(Ordering::Relaxed)
            || state.keyspace.tunables.expiry.replica_keeps_expired()
            || state.debug.cron_paused.load(Ordering::Relaxed)
            || state.pause.freezes_keys(state.clock.now_ms())
        {
            // Switched off by DEBUG SET-ACTIVE-EXPIRE 0 or PAUSE-CRON 1, on a replica (the
            // primary's DELs expire keys), or CLIENT PAUSE holds keys still.
            continue;
        }
        let state = state.clone();
        let mut cursor = next_shard;
        let (removed, cursor) = tokio::task::spawn_blocking(move || {
            // Not while a script or transaction runs: their clock stands still, so a key that
            // expires meanwhile must stay for them (and they hold the shards anyway).
            let Some(_section) = state.gate.try_shared() else {
                return (0, cursor);
            };
            let removed = expiry::run_cycle(
                &state.keyspace,
                &mut cursor,
                state.clock.now_ms(),
                expiry::cycle_budget(hz as u32),
                &mut |db, keys| state.aof.log_deletions(db, keys),
                &mut |db, keys| {
                    for key in keys {
                        state
                            .pubsub
                            .tracking
                            .invalidate(state.pubsub_handle(), &key, None);
                        notify::publish(
                            state.pubsub_handle(),
                            notify::EXPIRED,
                            "expired",
                            db,
                            &key,
                        );
                    }
                },
                expiry::FieldHooks {
                    log: &mut |db, gone| state.aof.log_field_deletions(db, gone),
                    after: &mut |db, gone| {
                        for g in gone {
                            let to = state.pubsub_handle();
                            state.pubsub.tracking.invalidate(to, &g.key, None);
                            notify::publish(to, notify::HASH, "hexpired", db, &g.key);
                            if g.key_deleted {
                                notify::publish(to, notify::GENERIC, "del", db, &g.key);
                            }
                        }
                    },
                },
            );
            (removed, cursor)
        })
        .await
        .unwrap_or((0, next_shard));
        next_shard = cursor;
        let _ = removed;
    }
}

/// Samples throughput every 100 ms for the `instantaneous_*` INFO fields.
async fn sampler_task(state: Arc<ServerState>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let s = &state.stats;
        s.ops_sampler.lock().sample(
            state.clock.now_ms(),
            ServerStats::get(&s.commands_processed),
            ServerStats::get(&s.net_input_bytes),
            ServerStats::get(&s.net_output_bytes),
        );
    }
}

/// What the metrics endpoint reads (the state, and the listeners' transport counters), and
/// INFO through dispatch.
struct MetricsHost {
    state: Arc<ServerState>,
    listeners: Arc<listener::Listeners>,
}

impl crate::net::metrics::Host for MetricsHost {
    fn metrics_handle(&self) -> crate::net::metrics::Handle<'_> {
        let state = &*self.state;
        crate::net::metrics::Handle {
            config: &state.config,
            registry: &state.registry,
            keyspace: &state.keyspace,
            gate: &state.gate,
            clients: &state.clients,
            clock: &state.clock,
            transport: &self.listeners.stats,
        }
    }

    fn execute(
        &self,
        client: &mut crate::engine::ClientState,
        argv: &[bytes::Bytes],
    ) -> crate::protocol::Reply {
        crate::engine::dispatch::execute(&self.state, client, argv)
    }
}

/// What replication calls back into: dispatch for the primary's stream and a full resync's
/// flushes, the gate, CLIENT PAUSE, blocked clients, the listeners' port.
impl crate::replication::Host for ServerState {
    fn replication_handle(&self) -> crate::replication::Handle<'_> {
        ServerState::replication_handle(self)
    }

    fn arc(&self) -> Option<Arc<dyn crate::replication::Host>> {
        self.self_arc()
            .map(|s| s as Arc<dyn crate::replication::Host>)
    }

    fn tcp_port(&self) -> u16 {
        ServerState::tcp_port(self)
    }

    fn spawn_link(
        self: Arc<Self>,
        generation: u64,
        host: String,
        port: u16,
    ) -> tokio::task::AbortHandle {
        tokio::spawn(crate::replication::replica::run(
            self, generation, host, port,
        ))
        .abort_handle()
    }

    fn execute(
        &self,
        client: &mut crate::engine::ClientState,
        argv: &[bytes::Bytes],
    ) -> crate::protocol::Reply {
        crate::engine::dispatch::execute(self, client, argv)
    }

    fn try_execute(
        &self,
        client: &mut crate::engine::ClientState,
        argv: &[bytes::Bytes],
    ) -> Result<crate::protocol::Reply, crate::gate::Wait> {
        crate::engine::dispatch::try_execute(self, client, argv, None)
    }

    fn wait_unpaused<'a: 'b, 'b>(
        &'a self,
        client: &'b crate::engine::ClientState,
        argv: &'b [bytes::Bytes],
    ) -> crate::replication::PauseWait<'a, 'b> {
        Box::pin(crate::engine::client_pause::wait_unpaused(
            self, client, argv,
        ))
    }

    fn exclusive_section(&self, client_id: u64) -> crate::gate::Pass<'_> {
        loop {
            match self.gate.admit(
                &self.keyspace,
                &self.clock,
                client_id,
                true,
                &self.scripting.busy,
            ) {
                Ok(crate::gate::Pass::Busy) | Err(crate::gate::Wait::Turn) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Ok(pass) => return pass,
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    fn unblock_all(&self, text: &'static str) -> usize {
        self.blocking.unblock_all(self.blocked_counts(), text)
    }

    fn complete_blocked(&self, id: u64, reply: crate::protocol::Reply) -> bool {
        self.blocking.complete(self.blocked_counts(), id, reply)
    }
}
