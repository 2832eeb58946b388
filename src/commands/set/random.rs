//! SPOP and SRANDMEMBER: random members, uniformly picked by slot (see `CompactMap`).
//!
//! Counts follow Redis: a positive count gives distinct members (the whole set when it is at
//! least the set's size), a negative one `|count|` independent picks. SPOP is written to the AOF
//! as the SREM of what it popped (in batches of `SREM_BATCH` members), or as DEL when it took the
//! whole set, so replay does not depend on the random choice.

use crate::commands::set::{bulk, collection, read_in, CommandResult, Ctx, SetValue};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use bytes::Bytes;

/// Members per propagated SREM (Redis's SPOP batch size).
const SREM_BATCH: usize = 1024;

/// SPOP key [count].
pub fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => {
            let positive = || CommandError::err("value is out of range, must be positive");
            let count = crate::engine::args::parse_i64(&argv[2]).map_err(|_| positive())?;
            let count = usize::try_from(count).map_err(|_| positive())?;
            spop_count(ctx, &argv[1], count)
        }
        _ => Err(CommandError::Syntax),
    }
}

/// Pops up to `count` random members of the set at `key`; the members and whether the key
/// was emptied (and deleted). `count == 0` still checks the type.
fn pop_members(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    count: usize,
) -> Result<Option<(Vec<Bytes>, bool)>, CommandError> {
    let db = ctx.db();
    let Some(written) = collection::write::<SetValue, _>(ctx, db, key, false, |s| {
        if count >= s.len() {
            let all: Vec<Bytes> = s.iter().map(|m| Bytes::copy_from_slice(&m)).collect();
            for m in &all {
                s.remove(m);
            }
            return Ok(all);
        }
        let mut popped = Vec::with_capacity(count);
        for _ in 0..count {
            let slot = s.random_slot(&mut collection::random_below);
            let Some(slot) = slot else { break };
            popped.push(Bytes::copy_from_slice(&s.at(slot).expect("live slot")));
            s.remove_at(slot);
        }
        Ok(popped)
    })?
    else {
        return Ok(None);
    };
    Ok(Some((written.result, written.deleted)))
}

fn spop_one(ctx: &mut Ctx<'_>, key: &Bytes) -> CommandResult {
    let Some((popped, deleted)) = pop_members(ctx, key, 1)? else {
        return Ok(Reply::Nil);
    };
    let db = ctx.db();
    let member = popped.into_iter().next().expect("a live set has a member");
    ctx.propagate(vec![
        Bytes::from_static(b"SREM"),
        key.clone(),
        member.clone(),
    ]);
    popped_events(ctx, db, key, deleted);
    Ok(Reply::Bulk(member))
}

fn spop_count(ctx: &mut Ctx<'_>, key: &Bytes, count: usize) -> CommandResult {
    let Some((popped, deleted)) = pop_members(ctx, key, count)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if popped.is_empty() {
        return Ok(Reply::Set(Vec::new()));
    }
    let db = ctx.db();
    if deleted {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
    } else {
        for batch in popped.chunks(SREM_BATCH) {
            let mut argv = vec![Bytes::from_static(b"SREM"), key.clone()];
            argv.extend(batch.iter().cloned());
            ctx.propagate(argv);
        }
    }
    popped_events(ctx, db, key, deleted);
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

fn popped_events(ctx: &mut Ctx<'_>, db: usize, key: &[u8], deleted: bool) {
    ctx.key_changed(db, key);
    ctx.notify(notify::SET, "spop", db, key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", db, key);
    }
}

/// SRANDMEMBER key [count].
pub fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let Some(count_arg) = argv.get(2) else {
        let s = read_in::<SetValue>(ctx, &argv[1])?;
        let slot = s.and_then(|s| s.random_slot(&mut collection::random_below));
        return Ok(match (s, slot) {
            (Some(s), Some(slot)) => bulk(&s.at(slot).expect("live slot")),
            _ => Reply::Nil,
        });
    };
    let count = collection::parse_random_count(count_arg)?;
    let Some(s) = read_in::<SetValue>(ctx, &argv[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let slots: Vec<_> = if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| s.random_slot(&mut collection::random_below))
            .collect()
    } else {
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        s.random_distinct(n, &mut collection::random_below)
    };
    Ok(Reply::Array(
        slots
            .into_iter()
            .filter_map(|slot| s.at(slot))
            .map(|m| bulk(&m))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::protocol::Reply;
    use crate::testing::TestServer;

    fn members(reply: Reply) -> Vec<Vec<u8>> {
        match reply {
            Reply::Array(items) | Reply::Set(items) => items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(b) => b.to_vec(),
                    other => panic!("not a bulk: {other:?}"),
                })
                .collect(),
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn spop_count_pops_distinct_members_until_empty() {
        let mut t = TestServer::new();
        for i in 0..300 {
            t.run(&["SADD", "s", &format!("m{i}")]);
        }
        let mut all = std::collections::HashSet::new();
        for _ in 0..3 {
            let popped = members(t.run(&["SPOP", "s", "90"]));
            assert_eq!(popped.len(), 90);
            for m in popped {
                assert!(all.insert(m), "popped twice");
            }
        }
        assert_eq!(t.resp(&["SCARD", "s"]), ":30\r\n");
        assert_eq!(members(t.run(&["SPOP", "s", "100"])).len(), 30);
        assert_eq!(t.resp(&["EXISTS", "s"]), ":0\r\n");
    }

    #[test]
    fn srandmember_counts() {
        let mut t = TestServer::new();
        t.run(&["SADD", "s", "a", "b", "c"]);
        let distinct = members(t.run(&["SRANDMEMBER", "s", "2"]));
        assert_eq!(distinct.len(), 2);
        assert_ne!(distinct[0], distinct[1]);
        assert_eq!(members(t.run(&["SRANDMEMBER", "s", "10"])).len(), 3);
        let repeated = members(t.run(&["SRANDMEMBER", "s", "-50"]));
        assert_eq!(repeated.len(), 50);
        let kinds: std::collections::HashSet<_> = repeated.into_iter().collect();
        assert!(kinds.len() > 1, "50 picks of 3 members all alike");
        assert_eq!(t.resp(&["SCARD", "s"]), ":3\r\n");
    }
}
