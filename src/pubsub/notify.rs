//! Keyspace notifications (notify-keyspace-events): the event classes and their publication on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.
//!
//! Commands call `Ctx::notify` next to `key_changed`; the events are only collected then, and
//! dispatch publishes them once the command has released its shard locks, so delivering to
//! subscribers never happens under a shard lock.

use super::{ChannelKind, ClientPubSub, Handle};
use crate::config::Config;
use bytes::Bytes;
use std::sync::atomic::Ordering;

// The bits `config::notify_flags` produces for each flag letter.
pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: DEL, EXPIRE, RENAME, COPY, MOVE, PERSIST...
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
/// `x`: a key with a TTL was removed because it expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted for maxmemory.
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
/// `m`: a key was looked up and missing.
pub const KEY_MISS: u32 = 1 << 11;
/// `n`: a key was created.
pub const NEW: u32 = 1 << 13;

/// One event raised by a command, waiting for the command's locks to be released.
#[derive(Debug, Clone)]
pub struct Event {
    pub class: u32,
    pub event: &'static str,
    pub db: usize,
    pub key: Bytes,
}

/// The notify-keyspace-events flags in force.
pub fn flags(config: &Config) -> u32 {
    config.hot.notify_keyspace_events.load(Ordering::Relaxed)
}

/// True if an event of `class` would be published at all (cheap; check before building keys).
pub fn enabled(config: &Config, class: u32) -> bool {
    let flags = flags(config);
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Records an event of the running command, if its class is enabled.
pub fn record(
    config: &Config,
    client: &mut ClientPubSub,
    class: u32,
    event: &'static str,
    db: usize,
    key: &[u8],
) {
    if enabled(config, class) {
        client.events.push(Event {
            class,
            event,
            db,
            key: Bytes::copy_from_slice(key),
        });
    }
}

/// Publishes the events a command recorded. Called with no shard lock held.
pub fn publish_recorded(to: Handle, client: &mut ClientPubSub) {
    for event in std::mem::take(&mut client.events) {
        publish(to, event.class, event.event, event.db, &event.key);
    }
}

/// Publishes one event now (Redis's `notifyKeyspaceEvent`). The caller must hold no shard lock:
/// use it for events raised outside commands, such as keys removed by the active expiry cycle.
pub fn publish(to: Handle, class: u32, event: &str, db: usize, key: &[u8]) {
    let flags = flags(to.config);
    if flags & class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        to.pubsub
            .publish(to, ChannelKind::Global, &channel, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        to.pubsub
            .publish(to, ChannelKind::Global, channel.as_bytes(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_config_parser() {
        let parse = |s: &str| crate::config::notify_flags(s).unwrap();
        assert_eq!(parse("K"), KEYSPACE);
        assert_eq!(parse("E"), KEYEVENT);
        assert_eq!(parse("g"), GENERIC);
        assert_eq!(parse("$"), STRING);
        assert_eq!(parse("x"), EXPIRED);
        assert_eq!(parse("e"), EVICTED);
        assert_eq!(parse("m"), KEY_MISS);
        assert_eq!(parse("n"), NEW);
        assert_eq!(
            parse("l") | parse("s") | parse("h") | parse("z"),
            LIST | SET | HASH | ZSET
        );
        assert_eq!(parse("t"), STREAM);
    }
}
