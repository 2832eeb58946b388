//! LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH / HELP: Redis's latency monitor commands
//! over the time series that `observability` records for commands at or above
//! `latency-monitor-threshold` milliseconds (src/observability/latency.rs).

use crate::engine::help_reply;
use crate::error::CommandError;
use crate::observability::latency::DoctorKnobs;
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::sync::atomic::Ordering;

const LATENCY_FLAGS: crate::engine::Flags = ADMIN | NOSCRIPT | LOADING | STALE;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: crate::engine::Flags,
    summary: &'static str,
    run: crate::engine::CommandFn,
) -> CommandSpec {
    CommandSpec::subcommand(
        name,
        arity,
        flags,
        "server",
        &[],
        "2.8.13",
        summary,
        "O(1)",
        run,
    )
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "latency",
    arity: -2,
    flags: 0,
    keys: KeySpec::None,
    acl: &[],
    group: "server",
    summary: "A container for latency diagnostics commands.",
    since: "2.8.13",
    complexity: "Depends on subcommand.",
    run: crate::engine::subcommands_only,
    subcommands: &[
        sub(
            "latest",
            2,
            LATENCY_FLAGS,
            "Returns the latest latency samples for all events.",
            latest,
        ),
        sub(
            "history",
            3,
            LATENCY_FLAGS,
            "Returns timestamp-latency samples for an event.",
            history,
        ),
        sub(
            "reset",
            -2,
            LATENCY_FLAGS,
            "Resets the latency data for one or more events.",
            reset,
        ),
        sub(
            "doctor",
            2,
            LATENCY_FLAGS,
            "Returns a human-readable latency analysis report.",
            doctor,
        ),
        sub(
            "graph",
            3,
            LATENCY_FLAGS,
            "Returns a latency graph for an event.",
            graph,
        ),
        CommandSpec::subcommand(
            "histogram",
            -2,
            LATENCY_FLAGS,
            "server",
            &[],
            "7.0.0",
            "Returns the cumulative distribution of latencies of a subset or all commands.",
            "O(N) where N is the number of commands with latency information being retrieved.",
            histogram,
        ),
        sub(
            "help",
            2,
            LOADING | STALE,
            "Returns helpful text about the different subcommands.",
            help,
        ),
    ],
}];

/// LATENCY HISTOGRAM [command ...]: per command (or `container|sub`) with calls recorded,
/// {calls, histogram_usec: {bucket bound: cumulative count}}. A container name stands for
/// itself and its subcommands; unknown names are skipped; no names means every command.
fn histogram(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let registry = &ctx.state.registry;
    let mut found: Vec<crate::engine::registry::Found> = Vec::new();
    if argv.len() == 2 {
        found.extend(registry.all_entries());
        found.sort_unstable_by_key(|f| f.full_name);
    }
    for name in &argv[2..] {
        let named = match name.iter().position(|&b| b == b'|') {
            Some(bar) => registry
                .get(&name[..bar])
                .and_then(|parent| registry.get_sub(parent.spec, &name[bar + 1..])),
            None => registry.get(name),
        };
        let Some(named) = named else { continue };
        found.push(named);
        let mut subs: Vec<_> = named
            .spec
            .subcommands
            .iter()
            .filter_map(|sub| registry.get_sub(named.spec, sub.name.as_bytes()))
            .collect();
        subs.sort_unstable_by_key(|f| f.full_name);
        found.extend(subs);
    }
    let rows = found
        .into_iter()
        .filter(|f| f.stats.latency.total() > 0)
        .map(|f| {
            let h = &f.stats.latency;
            let buckets = h
                .cumulative()
                .into_iter()
                .map(|(bound, n)| (Reply::Int(bound as i64), Reply::Int(n as i64)))
                .collect();
            let detail = vec![
                (Reply::bulk_static("calls"), Reply::Int(h.total() as i64)),
                (Reply::bulk_static("histogram_usec"), Reply::Map(buckets)),
            ];
            (
                Reply::bulk(f.full_name.as_bytes().to_vec()),
                Reply::Map(detail),
            )
        })
        .collect();
    Ok(Reply::Map(rows))
}

/// Event names are C strings in Redis: an argument is read up to its first NUL.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or_default()
}

fn now_s(ctx: &Ctx<'_>) -> u64 {
    ctx.now_ms / 1000
}

/// LATENCY LATEST: [event, time of the latest sample, its latency, all-time max] per event.
fn latest(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let rows = ctx
        .state
        .observability
        .latency
        .latest()
        .into_iter()
        .map(|l| {
            Reply::Array(vec![
                Reply::bulk(l.event.into_bytes()),
                Reply::Int(l.time as i64),
                Reply::Int(l.latency_ms as i64),
                Reply::Int(l.max_ms as i64),
            ])
        })
        .collect();
    Ok(Reply::Array(rows))
}

/// LATENCY HISTORY event: [time, latency] pairs, oldest first; empty for an unknown event.
fn history(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let rows = ctx
        .state
        .observability
        .latency
        .history(c_str(&argv[2]))
        .into_iter()
        .map(|(t, ms)| Reply::Array(vec![Reply::Int(t as i64), Reply::Int(ms as i64)]))
        .collect();
    Ok(Reply::Array(rows))
}

/// LATENCY RESET [event ...]: the number of event series dropped.
fn reset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let monitor = &ctx.state.observability.latency;
    let dropped = if argv.len() == 2 {
        monitor.reset(None)
    } else {
        argv[2..]
            .iter()
            .map(|e| monitor.reset(Some(c_str(e))))
            .sum()
    };
    Ok(Reply::Int(dropped as i64))
}

fn doctor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let config = &ctx.state.config;
    let knobs = DoctorKnobs {
        now: now_s(ctx),
        threshold_ms: config.get_i64("latency-monitor-threshold"),
        slowlog_slower_than_us: config.hot.slowlog_slower_than_us.load(Ordering::Relaxed),
        anon_huge_pages: crate::observability::latency::has_anon_huge_pages(),
    };
    let report = ctx.state.observability.latency.doctor(knobs);
    Ok(Reply::Verbatim(Bytes::from(report)))
}

fn graph(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let event = c_str(&argv[2]);
    match ctx.state.observability.latency.graph(event, now_s(ctx)) {
        Some(text) => Ok(Reply::Verbatim(Bytes::from(text))),
        None => {
            let mut text = b"ERR No samples available for event '".to_vec();
            // Kept on one line, as Redis's error formatting does.
            text.extend(event.iter().map(|&b| match b {
                b'\r' | b'\n' => b' ',
                b => b,
            }));
            text.push(b'\'');
            Err(CommandError::Raw(text))
        }
    }
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(help_reply(HELP))
}
