//! BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP: the list pops and moves, waiting through
//! `crate::engine::blocking` when every key is missing. Each is logged to the AOF as its non-blocking
//! form (LPOP, LMOVE ...), as Redis rewrites them.

use crate::commands::list::{
    move_element, mpop, parse_end, parse_mpop, pop_command, pop_elements, End,
};
use crate::engine::blocking::{block_on, may_block, parse_timeout};
use crate::engine::client::BlockRequest;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

pub fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop_first(ctx, argv, End::Head)
}

pub fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    pop_first(ctx, argv, End::Tail)
}

/// Pops one element from the first key holding a list: `[key, element]`.
fn pop_first(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CommandResult {
    let deadline_ms = parse_timeout(&argv[argv.len() - 1], ctx.now_ms)?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        if let Some(mut popped) = pop_elements(ctx, key, end, 1)? {
            ctx.propagate(vec![pop_command(end), key.clone()]);
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Bulk(popped.remove(0)),
            ]));
        }
    }
    block_on(ctx, wait_for(keys.to_vec(), deadline_ms, Reply::NilArray))
}

pub fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let deadline_ms = parse_timeout(&argv[5], ctx.now_ms)?;
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        argv[1].clone(),
        argv[2].clone(),
        argv[3].clone(),
        argv[4].clone(),
    ];
    move_or_wait(ctx, argv, from, to, deadline_ms, effect)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let deadline_ms = parse_timeout(&argv[3], ctx.now_ms)?;
    let effect = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        argv[1].clone(),
        argv[2].clone(),
    ];
    move_or_wait(ctx, argv, End::Tail, End::Head, deadline_ms, effect)
}

fn move_or_wait(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    from: End,
    to: End,
    deadline_ms: Option<u64>,
    effect: Vec<Bytes>,
) -> CommandResult {
    match move_element(ctx, &argv[1], &argv[2], from, to)? {
        Some(element) => {
            ctx.propagate(effect);
            Ok(Reply::Bulk(element))
        }
        // Inside MULTI or a script: a null bulk, while a timeout answers a null array.
        None if !may_block(ctx) => Ok(Reply::Nil),
        None => block_on(
            ctx,
            wait_for(vec![argv[1].clone()], deadline_ms, Reply::NilArray),
        ),
    }
}

pub fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let args = parse_mpop(argv, 2)?;
    let deadline_ms = parse_timeout(&argv[1], ctx.now_ms)?;
    if let Some(reply) = mpop(ctx, argv, &args)? {
        return Ok(reply);
    }
    let keys = argv[args.keys].to_vec();
    block_on(ctx, wait_for(keys, deadline_ms, Reply::NilArray))
}

fn wait_for(keys: Vec<Bytes>, deadline_ms: Option<u64>, timeout_reply: Reply) -> BlockRequest {
    BlockRequest {
        keys,
        wants: "list",
        deadline_ms,
        timeout_reply,
        rerun: None,
        on_any_change: false,
    }
}
