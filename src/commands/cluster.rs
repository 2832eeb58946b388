//! Cluster commands: CLUSTER and its subcommands, READONLY, READWRITE, ASKING.
//!
//! With `cluster-enabled yes` this node answers as a Redis Cluster of one primary owning all
//! 16384 slots (the emulated mode, see `crate::cluster` and docs/scale-out.md): the topology
//! replies (SLOTS, SHARDS, NODES, INFO ...) describe that, the slot commands (KEYSLOT,
//! COUNTKEYSINSLOT, GETKEYSINSLOT) work on the keyspace, and the subcommands that would change
//! the topology (DELSLOTS, SETSLOT, MEET, REPLICATE, FAILOVER ...) are refused with a clear
//! error. Without it every subcommand answers as a standalone redis-server does:
//! `ERR This instance has cluster support disabled`.

use crate::cluster::{self, slot};
use crate::command;
use crate::engine::args::parse_i64;
use crate::engine::{flags::*, CommandResult, CommandSpec, Ctx, KeySpec};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::state::ServerState;
use bytes::Bytes;

/// A command row with Redis's documented complexity `O(1)`.
const fn o1(spec: CommandSpec) -> CommandSpec {
    CommandSpec {
        complexity: "O(1)",
        ..spec
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    crate::commands::server::container(
        "cluster",
        "cluster",
        "3.0.0",
        "A container for Redis Cluster commands.",
        CLUSTER_SUBCOMMANDS,
    ),
    o1(command!(
        "asking",
        1,
        FAST,
        KeySpec::None,
        &["fast", "connection"],
        "cluster",
        "3.0.0",
        "Sent by cluster clients after an -ASK redirect",
        ok_in_cluster_mode
    )),
    o1(command!(
        "readonly",
        1,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["fast", "connection"],
        "cluster",
        "3.0.0",
        "Enables read queries for a connection to a cluster replica node",
        readonly
    )),
    o1(command!(
        "readwrite",
        1,
        LOADING | STALE | FAST,
        KeySpec::None,
        &["fast", "connection"],
        "cluster",
        "3.0.0",
        "Disables read queries for a connection to a cluster replica node",
        readwrite
    )),
];

macro_rules! cluster_sub {
    ($name:literal, $arity:expr, $run:expr) => {
        cluster_sub!($name, $arity, STALE, "3.0.0", $run)
    };
    ($name:literal, $arity:expr, $flags:expr, $run:expr) => {
        cluster_sub!($name, $arity, $flags, "3.0.0", $run)
    };
    ($name:literal, $arity:expr, $flags:expr, $since:literal, $run:expr) => {
        command!(
            $name,
            $arity,
            $flags,
            KeySpec::None,
            &["slow"],
            "cluster",
            $since,
            "A Redis Cluster command.",
            $run
        )
    };
}

const CHANGES: crate::engine::Flags = ADMIN | STALE | NO_ASYNC_LOADING;

static CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    cluster_sub!("addslots", -3, CHANGES, addslots),
    cluster_sub!("addslotsrange", -4, CHANGES, "7.0.0", addslotsrange),
    cluster_sub!("bumpepoch", 2, CHANGES, refused),
    cluster_sub!(
        "count-failure-reports",
        3,
        ADMIN | STALE,
        count_failure_reports
    ),
    cluster_sub!("countkeysinslot", 3, countkeysinslot),
    cluster_sub!("delslots", -3, CHANGES, refused),
    cluster_sub!("delslotsrange", -4, CHANGES, "7.0.0", refused),
    cluster_sub!("failover", -2, CHANGES, refused),
    cluster_sub!("flushslots", 2, CHANGES, refused),
    cluster_sub!("forget", 3, CHANGES, refused),
    cluster_sub!("getkeysinslot", 4, getkeysinslot),
    cluster_sub!("help", 2, LOADING | STALE, "5.0.0", help),
    cluster_sub!("info", 2, info),
    cluster_sub!("keyslot", 3, keyslot),
    cluster_sub!("links", 2, STALE, "7.0.0", links),
    cluster_sub!("meet", -4, CHANGES, refused),
    cluster_sub!("myid", 2, myid),
    cluster_sub!("myshardid", 2, STALE, "7.2.0", myshardid),
    cluster_sub!("nodes", 2, nodes),
    cluster_sub!("replicas", 3, ADMIN | STALE, "5.0.0", replicas),
    cluster_sub!("replicate", 3, CHANGES, refused),
    cluster_sub!("reset", -2, ADMIN | NOSCRIPT | STALE, refused),
    cluster_sub!("saveconfig", 2, CHANGES, saveconfig),
    cluster_sub!("set-config-epoch", 3, CHANGES, refused),
    cluster_sub!("setslot", -4, CHANGES, refused),
    cluster_sub!("shards", 2, STALE, "7.0.0", shards),
    cluster_sub!("slaves", 3, ADMIN | STALE, replicas),
    cluster_sub!("slots", 2, slots),
];

fn disabled() -> CommandError {
    CommandError::err("This instance has cluster support disabled")
}

/// Every cluster command starts here: without cluster mode, Redis's standalone answer.
fn enabled(ctx: &Ctx<'_>) -> Result<(), CommandError> {
    if ctx.state.cluster.enabled() {
        Ok(())
    } else {
        Err(disabled())
    }
}

/// ASKING: accepted in cluster mode. With one primary owning every slot there is no migration
/// to follow, so it changes nothing (neither do READONLY and READWRITE, but for CLIENT LIST).
fn ok_in_cluster_mode(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Ok(Reply::Ok)
}

/// READONLY: reads on a replica would be allowed; shown as flag `r` in CLIENT LIST.
fn readonly(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    ctx.client.info.details.lock().readonly = true;
    Ok(Reply::Ok)
}

fn readwrite(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    ctx.client.info.details.lock().readonly = false;
    Ok(Reply::Ok)
}

/// Subcommands that change the topology: the emulated cluster's topology is fixed.
fn refused(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Err(CommandError::err(format!(
        "CLUSTER {} is not supported: this node is an emulated cluster of one primary that owns every slot",
        String::from_utf8_lossy(&argv[1]).to_ascii_uppercase()
    )))
}

/// Redis's `getSlotOrReply`.
fn slot_arg(arg: &[u8]) -> Result<u16, CommandError> {
    parse_i64(arg)
        .ok()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| usize::from(n) < slot::SLOTS)
        .ok_or_else(|| CommandError::err("Invalid or out of range slot"))
}

/// ADDSLOTS: every slot is this node's already.
fn addslots(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let slot = slot_arg(&argv[2])?;
    Err(CommandError::err(format!("Slot {slot} is already busy")))
}

fn addslotsrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    if argv.len() % 2 == 1 {
        return Err(CommandError::Arity("cluster|addslotsrange".into()));
    }
    let start = slot_arg(&argv[2])?;
    let end = slot_arg(&argv[3])?;
    if start > end {
        return Err(CommandError::err(format!(
            "start slot number {start} is greater than end slot number {end}"
        )));
    }
    Err(CommandError::err(format!("Slot {start} is already busy")))
}

fn count_failure_reports(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    known_node(ctx.state, &argv[2])?;
    Ok(Reply::Int(0))
}

/// The node named `id`: this node (Ok(true)) or one of its replicas (Ok(false)).
fn known_node(state: &ServerState, id: &[u8]) -> Result<bool, CommandError> {
    if id == state.cluster.myid().as_bytes() {
        return Ok(true);
    }
    if cluster::replicas(&state.replication)
        .iter()
        .any(|r| r.id.as_bytes() == id)
    {
        return Ok(false);
    }
    Err(CommandError::err(format!(
        "Unknown node {}",
        String::from_utf8_lossy(id)
    )))
}

fn countkeysinslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let slot = parse_i64(&argv[2])?;
    let slot = u16::try_from(slot)
        .ok()
        .filter(|&s| usize::from(s) < slot::SLOTS)
        .ok_or_else(|| CommandError::err("Invalid slot"))?;
    let count = ctx
        .state
        .keyspace
        .slot_counts()
        .map_or(0, |counts| counts.count(slot));
    Ok(Reply::Int(i64::from(count)))
}

/// GETKEYSINSLOT: up to `count` keys of the slot, found by walking database 0 one shard at a
/// time (nothing is walked for an empty slot).
fn getkeysinslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let slot = parse_i64(&argv[2])?;
    let max = parse_i64(&argv[3])?;
    let (Some(slot), Ok(max)) = (
        u16::try_from(slot)
            .ok()
            .filter(|&s| usize::from(s) < slot::SLOTS),
        usize::try_from(max),
    ) else {
        return Err(CommandError::err("Invalid slot or number of keys"));
    };
    let stored = ctx
        .state
        .keyspace
        .slot_counts()
        .map_or(0, |counts| counts.count(slot));
    let wanted = max.min(stored as usize);
    let mut out = Vec::with_capacity(wanted);
    let now = ctx.now_ms;
    if wanted > 0 {
        ctx.for_each_shard(0, |_, shard| {
            let mut pos = 0;
            while out.len() < wanted && pos < shard.slot_count() {
                if let Some(entry) = shard.entry_at(pos) {
                    if !entry.is_expired(now) && slot::key_slot(entry.key()) == slot {
                        out.push(Reply::Bulk(Bytes::copy_from_slice(entry.key())));
                    }
                }
                pos += 1;
            }
        });
    }
    Ok(Reply::Array(out))
}

fn keyslot(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Ok(Reply::Int(i64::from(slot::key_slot(&argv[2]))))
}

fn links(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Ok(Reply::Array(Vec::new()))
}

fn myid(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Ok(Reply::bulk(ctx.state.cluster.myid()))
}

fn myshardid(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    Ok(Reply::bulk(ctx.state.cluster.shard_id()))
}

fn info(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let nodes = 1 + cluster::replicas(&ctx.state.replication).len();
    let text = format!(
        "cluster_state:ok\r\n\
         cluster_slots_assigned:16384\r\n\
         cluster_slots_ok:16384\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:{nodes}\r\n\
         cluster_size:1\r\n\
         cluster_current_epoch:0\r\n\
         cluster_my_epoch:0\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n"
    );
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// One CLUSTER NODES line (with its newline): `id ip:port@bus[,hostname] flags primary ping
/// pong epoch link slots`.
fn node_line(
    out: &mut String,
    id: &str,
    addr: &str,
    flags: &str,
    primary: &str,
    pong: u64,
    tail: &str,
) {
    use std::fmt::Write;
    let _ = writeln!(out, "{id} {addr} {flags} {primary} 0 {pong} 0 {tail}");
}

fn node_addr(state: &ServerState, ip: &str, port: u16, bus: u16) -> String {
    let host = state.config.get("cluster-announce-hostname");
    if host.is_empty() {
        format!("{ip}:{port}@{bus}")
    } else {
        format!("{ip}:{port}@{bus},{host}")
    }
}

fn replica_lines(state: &ServerState, now_ms: u64) -> String {
    let myid = state.cluster.myid();
    let mut out = String::new();
    for r in cluster::replicas(&state.replication) {
        let link = if r.online {
            "connected"
        } else {
            "disconnected"
        };
        let addr = node_addr(state, &r.ip, r.port, r.port.wrapping_add(10000));
        node_line(&mut out, &r.id, &addr, "slave", &myid, now_ms, link);
    }
    out
}

fn nodes(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let state = ctx.state;
    let ip = cluster::announced_ip(&state.config, Some(&ctx.client.info.local_addr));
    let addr = node_addr(
        state,
        &ip,
        cluster::announced_port(&state.config, state.tcp_port()),
        cluster::bus_port(&state.config, state.tcp_port()),
    );
    let mut out = String::new();
    node_line(
        &mut out,
        &state.cluster.myid(),
        &addr,
        "myself,master",
        "-",
        0,
        "connected 0-16383",
    );
    out.push_str(&replica_lines(state, ctx.now_ms));
    Ok(Reply::Verbatim(Bytes::from(out)))
}

fn replicas(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    if !known_node(ctx.state, &argv[2])? {
        return Err(CommandError::err("The specified node is not a master"));
    }
    let lines = replica_lines(ctx.state, ctx.now_ms);
    Ok(Reply::Array(lines.lines().map(Reply::bulk_str).collect()))
}

/// The extra networking metadata of a CLUSTER SLOTS node entry: the hostname when it is not
/// already the endpoint.
fn slot_metadata(state: &ServerState) -> Reply {
    let host = state.config.get("cluster-announce-hostname");
    let preferred = state.config.get("cluster-preferred-endpoint-type");
    if host.is_empty() || preferred == "hostname" {
        Reply::Map(Vec::new())
    } else {
        Reply::Map(vec![(Reply::bulk_static("hostname"), Reply::bulk(host))])
    }
}

fn slots(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let state = ctx.state;
    let ip = cluster::announced_ip(&state.config, Some(&ctx.client.info.local_addr));
    let mut range = vec![
        Reply::Int(0),
        Reply::Int(slot::SLOTS as i64 - 1),
        Reply::Array(vec![
            Reply::bulk(cluster::endpoint(&state.config, &ip)),
            Reply::Int(i64::from(cluster::announced_port(
                &state.config,
                state.tcp_port(),
            ))),
            Reply::bulk(state.cluster.myid()),
            slot_metadata(state),
        ]),
    ];
    for r in cluster::replicas(&state.replication) {
        range.push(Reply::Array(vec![
            Reply::bulk(cluster::endpoint(&state.config, &r.ip)),
            Reply::Int(i64::from(r.port)),
            Reply::bulk(r.id),
            slot_metadata(state),
        ]));
    }
    Ok(Reply::Array(vec![Reply::Array(range)]))
}

/// A CLUSTER SHARDS node description.
fn shard_node(
    state: &ServerState,
    id: String,
    ip: &str,
    port: u16,
    role: &'static str,
    offset: u64,
    online: bool,
) -> Reply {
    let mut fields = vec![
        (Reply::bulk_static("id"), Reply::bulk(id)),
        (Reply::bulk_static("port"), Reply::Int(i64::from(port))),
        (Reply::bulk_static("ip"), Reply::bulk_str(ip)),
        (
            Reply::bulk_static("endpoint"),
            Reply::bulk(cluster::endpoint(&state.config, ip)),
        ),
    ];
    let host = state.config.get("cluster-announce-hostname");
    if !host.is_empty() {
        fields.push((Reply::bulk_static("hostname"), Reply::bulk(host)));
    }
    fields.extend([
        (Reply::bulk_static("role"), Reply::bulk_static(role)),
        (
            Reply::bulk_static("replication-offset"),
            Reply::Int(offset as i64),
        ),
        (
            Reply::bulk_static("health"),
            Reply::bulk_static(if online { "online" } else { "loading" }),
        ),
    ]);
    Reply::Map(fields)
}

fn shards(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    let state = ctx.state;
    let ip = cluster::announced_ip(&state.config, Some(&ctx.client.info.local_addr));
    let mut nodes = vec![shard_node(
        state,
        state.cluster.myid(),
        &ip,
        cluster::announced_port(&state.config, state.tcp_port()),
        "master",
        state.replication.offset(),
        true,
    )];
    for r in cluster::replicas(&state.replication) {
        nodes.push(shard_node(
            state, r.id, &r.ip, r.port, "replica", r.offset, r.online,
        ));
    }
    Ok(Reply::Array(vec![Reply::Map(vec![
        (
            Reply::bulk_static("slots"),
            Reply::Array(vec![Reply::Int(0), Reply::Int(slot::SLOTS as i64 - 1)]),
        ),
        (Reply::bulk_static("nodes"), Reply::Array(nodes)),
    ])]))
}

fn saveconfig(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    cluster::save_config(&ctx.state.cluster, &ctx.state.config, ctx.state.tcp_port())
        .map_err(|e| CommandError::err(format!("error saving the cluster node config: {e}")))?;
    Ok(Reply::Ok)
}

fn help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    enabled(ctx)?;
    crate::commands::server::help_result(&[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "HELP",
        "    Prints this help.",
    ])
}
