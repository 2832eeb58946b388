//! ZUNION, ZINTER, ZDIFF (and their STORE forms), ZINTERCARD: Redis's
//! `zunionInterDiffGenericCommand`. Inputs may be sorted sets or plain sets (a set's members
//! score 1). Every input key is type-checked before the options are parsed, as in Redis, so
//! WRONGTYPE wins over a syntax error.

use crate::commands::sorted_set::{check_input_type, members_reply, owned, scored_reply, store};
use crate::engine::args::{is, parse_double, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::ZSetValue;
use crate::keyspace::ValueRef;
use crate::protocol::Reply;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;
use hashbrown::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a NaN sum (inf + -inf) becomes 0.
    fn apply(self, target: f64, value: f64) -> f64 {
        match self {
            Aggregate::Sum => {
                let sum = target + value;
                if sum.is_nan() {
                    0.0
                } else {
                    sum
                }
            }
            Aggregate::Min => target.min(value),
            Aggregate::Max => target.max(value),
        }
    }
}

/// What the command produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Reply,
    Store,
    /// ZINTERCARD: only the size, up to a limit (0: none).
    Cardinality,
}

struct Request<'a> {
    keys: &'a [Bytes],
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// Parses `numkeys key... options` from `argv[numkeys_at..]`.
fn parse_request<'a>(
    ctx: &mut Ctx<'_>,
    argv: &'a [Bytes],
    numkeys_at: usize,
    op: SetOp,
    output: Output,
) -> Result<Request<'a>, CommandError> {
    let n = parse_i64(&argv[numkeys_at])?;
    if n < 1 {
        return Err(CommandError::err(format!(
            "at least 1 input key is needed for '{}' command",
            crate::engine::args::lower(&argv[0])
        )));
    }
    let first = numkeys_at + 1;
    if n as u64 > (argv.len() - first) as u64 {
        return Err(CommandError::Syntax);
    }
    let n = n as usize;
    let keys = &argv[first..first + n];
    for key in keys {
        check_input_type(ctx, key)?;
    }
    let mut req = Request {
        keys,
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let full = output != Output::Cardinality && op != SetOp::Diff;
    let mut j = first + n;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let arg = &argv[j];
        if full && remaining > n && is(arg, "weights") {
            for (i, weight) in req.weights.iter_mut().enumerate() {
                *weight = parse_double(&argv[j + 1 + i])
                    .map_err(|_| CommandError::err("weight value is not a float"))?;
            }
            j += 1 + n;
        } else if full && remaining >= 2 && is(arg, "aggregate") {
            let value = &argv[j + 1];
            req.aggregate = match () {
                _ if is(value, "sum") => Aggregate::Sum,
                _ if is(value, "min") => Aggregate::Min,
                _ if is(value, "max") => Aggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
            j += 2;
        } else if output == Output::Reply && is(arg, "withscores") {
            req.with_scores = true;
            j += 1;
        } else if output == Output::Cardinality && remaining >= 2 && is(arg, "limit") {
            let limit_error = || CommandError::err("LIMIT can't be negative");
            let limit = parse_i64(&argv[j + 1]).map_err(|_| limit_error())?;
            req.limit = usize::try_from(limit).map_err(|_| limit_error())?;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(req)
}

/// One input, looked up once (counting a keyspace hit or miss) and weighted.
fn read_weighted(ctx: &mut Ctx<'_>, key: &[u8], weight: f64) -> Vec<(Bytes, f64)> {
    let now = ctx.now_ms;
    let (shard, hash) = ctx.shard(key);
    let weighted = |score: f64| {
        let value = score * weight;
        if value.is_nan() {
            0.0
        } else {
            value
        }
    };
    match shard.get_read(hash, key, now).map(|e| e.value()) {
        Some(ValueRef::ZSet(z)) => z
            .iter()
            .map(|(m, s)| (Bytes::copy_from_slice(m), weighted(s)))
            .collect(),
        // A plain set is read as members scoring 1, as Redis does.
        Some(ValueRef::Set(s)) => s
            .iter()
            .map(|m| (Bytes::copy_from_slice(&m), weighted(1.0)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs the operation and returns the result as a sorted set.
fn compute(ctx: &mut Ctx<'_>, req: &Request<'_>, op: SetOp) -> ZSetValue {
    let inputs: Vec<Vec<(Bytes, f64)>> = req
        .keys
        .iter()
        .zip(&req.weights)
        .map(|(key, &w)| read_weighted(ctx, key, w))
        .collect();
    let mut acc: HashMap<Bytes, f64> = HashMap::new();
    match op {
        SetOp::Union => {
            for input in inputs {
                for (member, score) in input {
                    acc.entry(member)
                        .and_modify(|t| *t = req.aggregate.apply(*t, score))
                        .or_insert(score);
                }
            }
        }
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..inputs.len()).collect();
            order.sort_by_key(|&i| inputs[i].len());
            acc.extend(inputs[order[0]].iter().cloned());
            for &i in &order[1..] {
                let other: HashMap<&Bytes, f64> = inputs[i].iter().map(|(m, s)| (m, *s)).collect();
                acc.retain(|m, _| other.contains_key(m));
                for (member, target) in acc.iter_mut() {
                    *target = req.aggregate.apply(*target, other[member]);
                }
            }
        }
        SetOp::Diff => {
            acc.extend(inputs[0].iter().cloned());
            for input in &inputs[1..] {
                for (member, _) in input {
                    acc.remove(member);
                }
            }
        }
    }
    let limits = crate::commands::sorted_set::limits(ctx);
    let mut result = ZSetValue::with_hint(acc.len(), 0, limits);
    for (member, score) in acc {
        result.insert(&member, score, limits);
    }
    result
}

fn generic(ctx: &mut Ctx<'_>, argv: &[Bytes], op: SetOp, output: Output) -> CommandResult {
    let numkeys_at = if output == Output::Store { 2 } else { 1 };
    let req = parse_request(ctx, argv, numkeys_at, op, output)?;
    let result = compute(ctx, &req, op);
    match output {
        Output::Store => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            Ok(store(ctx, &argv[1], result, event))
        }
        Output::Reply => {
            let items = owned(result.iter());
            Ok(if req.with_scores {
                scored_reply(ctx.client.protocol, items)
            } else {
                members_reply(items)
            })
        }
        Output::Cardinality => {
            let n = match req.limit {
                0 => result.len(),
                limit => result.len().min(limit),
            };
            Ok(Reply::Int(n as i64))
        }
    }
}

pub fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Union, Output::Reply)
}

pub fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Union, Output::Store)
}

pub fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Inter, Output::Reply)
}

pub fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Inter, Output::Store)
}

pub fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Inter, Output::Cardinality)
}

pub fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Diff, Output::Reply)
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    generic(ctx, argv, SetOp::Diff, Output::Store)
}
