//! Emulated cluster mode (`cluster-enabled yes`): this node is a Redis Cluster of one primary
//! that owns all 16384 hash slots. Cluster clients (redis-py `RedisCluster`, `redis-cli -c`,
//! Jedis, Lettuce) find one node serving every slot and send it everything; there is no cluster
//! bus, no gossip, no failover and so never a -MOVED or -ASK redirection.
//!
//! What the mode changes on the command path is Redis's: a request whose keys hash to different
//! slots is refused with -CROSSSLOT (one command, or every command queued in a transaction, at
//! EXEC), only database 0 exists (SELECT, MOVE, SWAPDB and COPY ... DB refuse), and a script's
//! `redis.call` with keys in different slots fails. `slot` is the slot function; the per-slot
//! key counts behind CLUSTER COUNTKEYSINSLOT are `keyspace::slot_index`.
//!
//! The node id lives in `cluster-config-file` (Redis's nodes.conf format, one `myself` line), so
//! it survives restarts as a Redis node's does.

pub mod slot;

use crate::clients::Peer;
use crate::config::Config;
use crate::engine::{flags, ClientState, CommandSpec, KeySpec};
use bytes::Bytes;
use parking_lot::RwLock;

/// The error text of a request whose keys are in different slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// The error `redis.call` raises in a script for a command whose keys are in different slots.
pub const SCRIPT_CROSSSLOT: &str =
    "ERR Script attempted to access a non local key in a cluster node";

/// The error of EVAL / FCALL of a script or function flagged `no-cluster`, in cluster mode.
pub const NO_CLUSTER_SCRIPT: &str = "Can not run script on cluster, 'no-cluster' flag is set.";

/// The cluster state of this node.
pub struct Cluster {
    enabled: bool,
    /// 40 lower-case hex characters; replaced at start-up by the one in cluster-config-file.
    myid: RwLock<String>,
}

/// A replica of this node as the cluster commands show it.
#[derive(Clone, Debug)]
pub struct ReplicaNode {
    /// The replica's node id (its own `CLUSTER MYID`).
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// Replication offset it acknowledged.
    pub offset: u64,
    /// Whether its link is up (`connected` / `online` as opposed to `disconnected` / `loading`).
    pub online: bool,
}

/// The replicas connected to this node, for CLUSTER SLOTS, SHARDS, NODES and REPLICAS.
///
/// Hook for the primary side of replication: it returns the replicas it serves (with the node
/// id each one announced). Until that side registers them, the list is empty and this node is
/// shown as a primary without replicas.
pub fn replicas(_replication: &crate::replication::Replication) -> Vec<ReplicaNode> {
    Vec::new()
}

impl Cluster {
    pub fn new(enabled: bool, seed: u64) -> Cluster {
        Cluster {
            enabled,
            myid: RwLock::new(crate::replication::new_replid(seed ^ 0x6e6f6465)),
        }
    }

    /// Whether `cluster-enabled yes` (fixed for the life of the process).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn myid(&self) -> String {
        self.myid.read().clone()
    }

    /// The shard id (Redis 7.2's CLUSTER MYSHARDID): one shard, named after its primary so it
    /// stays the same across restarts.
    pub fn shard_id(&self) -> String {
        let id = self.myid.read();
        // FNV-1a over the node id, spread to 40 hex characters.
        let mut out = String::with_capacity(40);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for round in 0u8..3 {
            for &b in id.as_bytes().iter().chain(&[round, b's']) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            out.push_str(&format!("{h:016x}"));
        }
        out.truncate(40);
        out
    }
}

/// Reads this node's id from `cluster-config-file` (relative to `dir`) before clients are
/// accepted; a new id is kept when there is no file. An unreadable file, or one without this
/// node's line, stops start-up, as in Redis. `save_config` writes the file once the listeners
/// know their port.
pub fn load_at_startup(cluster: &Cluster, config: &Config) -> Result<(), String> {
    if !cluster.enabled {
        return Ok(());
    }
    let path = config_path(config);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.lines().find_map(|line| {
                let mut fields = line.split(' ');
                let id = fields.next()?;
                let flags = fields.nth(1)?;
                (flags.split(',').any(|f| f == "myself") && is_node_id(id)).then_some(id)
            });
            match id {
                Some(id) => *cluster.myid.write() = id.to_string(),
                None => {
                    return Err(format!(
                        "Unrecoverable error: corrupted cluster config file \"{}\": no `myself` node line.",
                        path.display()
                    ))
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "Can't open the cluster config file {}: {e}",
                path.display()
            ))
        }
    }
    Ok(())
}

/// Writes cluster-config-file (CLUSTER SAVECONFIG, start-up): this node's line in Redis's
/// nodes.conf format, then the epochs. Nothing without cluster mode. `tcp_port`: the port the
/// TCP listener is bound to.
pub fn save_config(cluster: &Cluster, config: &Config, tcp_port: u16) -> Result<(), String> {
    if !cluster.enabled {
        return Ok(());
    }
    let path = config_path(config);
    let (ip, port, bus) = (
        announced_ip(config, None),
        announced_port(config, tcp_port),
        bus_port(config, tcp_port),
    );
    let text = format!(
        "{} {ip}:{port}@{bus} myself,master - 0 0 0 connected 0-16383\nvars currentEpoch 0 lastVoteEpoch 0\n",
        cluster.myid()
    );
    let tmp = path.with_extension("tmp-ferrocache");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            format!(
                "Could not save the cluster config file {}: {e}",
                path.display()
            )
        })
}

fn config_path(config: &Config) -> std::path::PathBuf {
    let file = std::path::PathBuf::from(config.get("cluster-config-file"));
    if file.is_absolute() {
        file
    } else {
        std::path::Path::new(&config.get("dir")).join(file)
    }
}

fn is_node_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The address clients are told to use: `cluster-announce-ip` when set, else the local address
/// of the connection asking (`local_addr`: the address it reached this node by), else empty as
/// Redis shows an address it does not know.
pub fn announced_ip(config: &Config, local_addr: Option<&Peer>) -> String {
    let ip = config.get("cluster-announce-ip");
    if !ip.is_empty() {
        return ip;
    }
    match local_addr {
        Some(Peer::Tcp(addr)) => match addr.ip() {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            },
            v4 => v4.to_string(),
        },
        _ => String::new(),
    }
}

/// `cluster-announce-port` when set, else the TCP port this node listens on (`tcp_port`).
pub fn announced_port(config: &Config, tcp_port: u16) -> u16 {
    match config.get_i64("cluster-announce-port") {
        0 => tcp_port,
        port => port as u16,
    }
}

/// The cluster bus port shown in CLUSTER NODES (no bus listens here): `cluster-announce-bus-port`,
/// else `cluster-port`, else the client port + 10000, as Redis computes it.
pub fn bus_port(config: &Config, tcp_port: u16) -> u16 {
    match config.get_i64("cluster-announce-bus-port") {
        // Redis refuses a client port above 55535 without cluster-port; here nothing listens
        // on the bus, so such a port shows bus port 0.
        0 => match config.get_i64("cluster-port") {
            0 => announced_port(config, tcp_port)
                .checked_add(10000)
                .unwrap_or(0),
            port => port as u16,
        },
        port => port as u16,
    }
}

/// The endpoint of CLUSTER SLOTS / SHARDS, by `cluster-preferred-endpoint-type`.
pub fn endpoint(config: &Config, ip: &str) -> String {
    match config.get("cluster-preferred-endpoint-type").as_str() {
        "hostname" => {
            let host = config.get("cluster-announce-hostname");
            if host.is_empty() {
                "?".into()
            } else {
                host
            }
        }
        "unknown-endpoint" => "?".into(),
        _ => ip.to_string(),
    }
}

/// The slot every key of a request hashes to, Redis's `getNodeByQuery` over one command:
/// `Ok(None)` without keys, `Err(())` when they are in different slots. Only the slots of
/// different keys are compared, so a single-key command costs nothing.
fn fold_slots(
    spec: &CommandSpec,
    argv: &[Bytes],
    first: &mut Option<(Bytes, u16)>,
) -> Result<(), ()> {
    let indexes = match spec.keys {
        // Shard channels (SSUBSCRIBE, SPUBLISH ...) hash to slots like keys.
        KeySpec::None if spec.has(flags::PUBSUB) => channel_indexes(spec, argv),
        KeySpec::None => return Ok(()),
        _ => spec.keys.key_indexes(argv),
    };
    for (_, i) in indexes {
        let key = &argv[i];
        match first {
            None => *first = Some((key.clone(), slot::key_slot(key))),
            Some((k, s)) => {
                if k != key && *s != slot::key_slot(key) {
                    return Err(());
                }
            }
        }
    }
    Ok(())
}

/// The arguments that are shard channels, from the command's `not_key` key specs.
fn channel_indexes(spec: &CommandSpec, argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    use crate::engine::key_specs::{declared, Begin, Find};
    let mut out = Vec::new();
    for decl in declared(spec.name).unwrap_or_default() {
        if let (Begin::Index(first), Find::Range { lastkey, step, .. }) = (decl.begin, decl.find) {
            let argc = argv.len() as i64;
            let first = i64::from(first);
            let last = if lastkey < 0 {
                argc + i64::from(lastkey)
            } else {
                first + i64::from(lastkey)
            };
            let mut i = first;
            while i <= last.min(argc - 1) {
                out.push((None, i as usize));
                i += i64::from(step.max(1));
            }
        }
    }
    out
}

/// Whether a command's keys are in different slots, in cluster mode (dispatch refuses it with
/// `CROSSSLOT`, before queuing it in a transaction or running it). Clients whose commands must
/// be applied as sent (AOF loading, a primary's stream) are never refused.
pub fn crosses_slots(
    cluster: &Cluster,
    client: &ClientState,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> bool {
    if !cluster.enabled || client.must_obey {
        return false;
    }
    spans_slots(spec, argv)
}

/// Whether one command's keys (or shard channels) are in more than one slot.
fn spans_slots(spec: &CommandSpec, argv: &[Bytes]) -> bool {
    if let KeySpec::Range {
        first: 1, last: 1, ..
    } = spec.keys
    {
        // One key: nothing to compare (the common case costs no hashing).
        return false;
    }
    fold_slots(spec, argv, &mut None).is_err()
}

/// Whether the commands queued in a transaction have keys in different slots (EXEC answers
/// CROSSSLOT and discards the transaction).
pub fn transaction_crosses_slots(cluster: &Cluster, client: &ClientState) -> bool {
    if !cluster.enabled || client.must_obey {
        return false;
    }
    let Some(multi) = client.multi.as_ref() else {
        return false;
    };
    let mut first = None;
    multi
        .queued
        .iter()
        .any(|(found, argv)| fold_slots(found.spec, argv, &mut first).is_err())
}

/// The refusal of a script's `redis.call` whose keys are in different slots.
pub fn script_refusal(
    cluster: &Cluster,
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Option<&'static str> {
    if !cluster.enabled {
        return None;
    }
    spans_slots(spec, argv).then_some(SCRIPT_CROSSSLOT)
}
