//! CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO: server-assisted client-side caching,
//! with Redis 7.2's option rules and error texts. The tracking itself (which client holds which
//! key, who gets which invalidation) is pubsub::tracking; these commands change a connection's
//! settings.

use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::tracking::TrackingMode;
use crate::{engine::CommandResult, engine::Ctx};
use bytes::Bytes;

/// Either of two prefixes starts with the other (Redis's `stringCheckPrefix`).
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// The options after ON/OFF, as given.
#[derive(Default)]
struct Options {
    redirect: u64,
    bcast: bool,
    optin: bool,
    optout: bool,
    noloop: bool,
    prefixes: Vec<Bytes>,
}

fn parse_options(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Options, CommandError> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        let arg = &args[i];
        if is(arg, "redirect") && more {
            i += 1;
            if o.redirect != 0 {
                return Err(CommandError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            let id = parse_i64(&args[i])?;
            if id <= 0 || ctx.state.clients.get(id as u64).is_none() {
                return Err(CommandError::err(
                    "The client ID you want redirect to does not exist",
                ));
            }
            o.redirect = id as u64;
        } else if is(arg, "bcast") {
            o.bcast = true;
        } else if is(arg, "optin") {
            o.optin = true;
        } else if is(arg, "optout") {
            o.optout = true;
        } else if is(arg, "noloop") {
            o.noloop = true;
        } else if is(arg, "prefix") && more {
            i += 1;
            o.prefixes.push(args[i].clone());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn overlap_error(new: &[u8], kind: &str, other: &[u8]) -> CommandError {
    CommandError::err(format!(
        "Prefix '{}' overlaps with {kind} prefix '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(new),
        String::from_utf8_lossy(other)
    ))
}

/// Redis's `checkPrefixCollisionsOrReply`: no new prefix may overlap an existing one or another
/// new one.
fn check_prefixes(existing: &[Bytes], new: &[Bytes]) -> Result<(), CommandError> {
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlaps(old, p)) {
            return Err(overlap_error(p, "an existing", old));
        }
        if let Some(other) = new[i + 1..].iter().find(|other| overlaps(p, other)) {
            return Err(overlap_error(p, "another provided", other));
        }
    }
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let o = parse_options(ctx, &argv[3..])?;
    if is(&argv[2], "off") {
        if ctx.client.pubsub.tracking.take().is_some() {
            let id = ctx.client.id;
            ctx.state
                .pubsub
                .tracking
                .disable(&ctx.state.keyspace.tunables.expiry, id);
        }
        return Ok(Reply::Ok);
    }
    if !is(&argv[2], "on") {
        return Err(CommandError::Syntax);
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(CommandError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    let current = ctx.client.pubsub.tracking.clone();
    if current.as_ref().is_some_and(|m| m.bcast != o.bcast) {
        return Err(CommandError::err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(CommandError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if o.optin && o.optout {
        return Err(CommandError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if current
        .as_ref()
        .is_some_and(|m| (o.optin && m.optout) || (o.optout && m.optin))
    {
        return Err(CommandError::err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    let mut prefixes = current.map(|m| m.prefixes).unwrap_or_default();
    if o.bcast {
        check_prefixes(&prefixes, &o.prefixes)?;
        if o.prefixes.is_empty() {
            // BCAST without PREFIX: every key (the empty prefix), as Redis registers it.
            if !prefixes.iter().any(|p| p.is_empty()) {
                prefixes.push(Bytes::new());
            }
        } else {
            prefixes.extend(o.prefixes);
        }
    }
    let mode = TrackingMode {
        redirect: o.redirect,
        bcast: o.bcast,
        optin: o.optin,
        optout: o.optout,
        noloop: o.noloop,
        prefixes,
        caching: false,
    };
    ctx.state.pubsub.tracking.enable(
        &ctx.state.keyspace.tunables.expiry,
        &ctx.client.pubsub.outbox,
        &mode,
    );
    ctx.client.pubsub.tracking = Some(mode);
    Ok(Reply::Ok)
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked (OPTIN / OPTOUT).
pub fn caching(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let Some(mode) = ctx.client.pubsub.tracking.as_mut() else {
        return Err(CommandError::err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    };
    if is(&argv[2], "yes") {
        if !mode.optin {
            return Err(CommandError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&argv[2], "no") {
        if !mode.optout {
            return Err(CommandError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CommandError::Syntax);
    }
    mode.caching = true;
    Ok(Reply::Ok)
}

/// CLIENT GETREDIR: -1 without tracking, 0 when invalidations come on this connection.
pub fn getredir(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    Ok(Reply::Int(
        ctx.client
            .pubsub
            .tracking
            .as_ref()
            .map_or(-1, |m| m.redirect as i64),
    ))
}

/// CLIENT TRACKINGINFO: flags, redirect and BCAST prefixes, in Redis's order.
pub fn trackinginfo(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let mode = ctx.client.pubsub.tracking.as_ref();
    let mut flags = Vec::new();
    match mode {
        None => flags.push("off"),
        Some(m) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if m.caching {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if m.caching {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if ctx.state.pubsub.tracking.has_broken_redirect(ctx.client.id) {
                flags.push("broken_redirect");
            }
        }
    }
    let redirect = mode.map_or(-1, |m| m.redirect as i64);
    let prefixes = mode
        .map(|m| m.prefixes.iter().cloned().map(Reply::Bulk).collect())
        .unwrap_or_default();
    Ok(Reply::Map(vec![
        (
            Reply::bulk_static("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk_static).collect()),
        ),
        (Reply::bulk_static("redirect"), Reply::Int(redirect)),
        (Reply::bulk_static("prefixes"), Reply::Array(prefixes)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_collisions_name_both_prefixes() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert!(check_prefixes(&[b("a")], &[b("b"), b("c")]).is_ok());
        let e = check_prefixes(&[], &[b("a"), b("ab")]).unwrap_err();
        assert!(format!("{e:?}").contains("Prefix 'a' overlaps with another provided prefix 'ab'"));
        let e = check_prefixes(&[b("a")], &[b("ab")]).unwrap_err();
        assert!(format!("{e:?}").contains("Prefix 'ab' overlaps with an existing prefix 'a'"));
    }
}
