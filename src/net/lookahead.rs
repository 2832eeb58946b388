//! Decoding a pipelined batch a little ahead of running it, so the keys of the requests that
//! wait behind the running one are prefetched (`Keyspace::prefetch_keys`): a batch of 16 GETs
//! then pays for its index and entry cache misses about once, not 16 times one after another.
//!
//! Decoding ahead must not change what a request means. Decoding depends on the limits (the
//! client's authentication, `proto-max-bulk-len`), and only commands that are not plain key
//! commands change them (AUTH, HELLO, CONFIG SET, ACL, RESET ...). So requests are decoded
//! ahead only while every one decoded so far is a plain key command; the first that is not
//! (or a protocol error, or an incomplete request) ends the look-ahead, and everything decoded
//! is handed out in order, exactly as it would have been decoded one at a time.

use crate::engine::registry::{Found, Known};
use crate::protocol::{Limits, ProtocolError, Request, RequestDecoder};
use crate::state::ServerState;
use crate::{engine::flags, engine::KeySpec};
use bytes::BytesMut;
use std::collections::VecDeque;

/// Requests decoded ahead at most (redis-benchmark's -P 16 is a common batch).
const AHEAD_MAX: usize = 16;

type Decoded = Result<Option<Request>, ProtocolError>;

#[derive(Default)]
pub struct Lookahead {
    /// Requests decoded ahead, each with its command as found in the table (dispatch does not
    /// look it up again).
    queue: VecDeque<(Decoded, Option<Known>)>,
    hashes: Vec<u64>,
    /// The last command name this connection looked up, byte for byte, and what the table
    /// gave for it: clients mostly repeat their commands, and the table does not change while
    /// the server runs, so a repeat costs a comparison instead of a lookup.
    last_name: Option<(NameBytes, Found)>,
    /// `last_name` changed: the decoder is to share the new command's name.
    names_changed: bool,
}

/// A command name short enough to remember (every command's and subcommand container's is).
#[derive(Clone, Copy, PartialEq, Eq)]
struct NameBytes {
    len: u8,
    bytes: [u8; NAME_MEMO_BYTES],
}

const NAME_MEMO_BYTES: usize = 24;

impl NameBytes {
    fn new(name: &[u8]) -> Option<NameBytes> {
        let mut bytes = [0; NAME_MEMO_BYTES];
        bytes.get_mut(..name.len())?.copy_from_slice(name);
        Some(NameBytes {
            len: name.len() as u8,
            bytes,
        })
    }

    fn is(&self, name: &[u8]) -> bool {
        name.len() <= NAME_MEMO_BYTES
            && crate::protocol::request::same_short(&self.bytes[..usize::from(self.len)], name)
    }
}

impl Lookahead {
    /// The next request of the input: one decoded ahead, or decoded now (then, if it is a plain
    /// key command, the ones behind it are decoded too and their keys prefetched in `db`), with
    /// its command when the look-ahead found it and its key's hash when it computed it.
    pub fn next(
        &mut self,
        state: &ServerState,
        db: usize,
        decoder: &mut RequestDecoder,
        input: &mut BytesMut,
        limits: Limits,
    ) -> (Decoded, Option<Known>) {
        if let Some(next) = self.queue.pop_front() {
            return next;
        }
        let first = decoder.decode(input, limits);
        // With nothing behind it (an unpipelined request) there is nothing to prefetch, only
        // the command to find.
        let (found, hash) = self.classify(state, &first, !input.is_empty());
        self.share_name(decoder);
        let known = found.map(|found| Known {
            found,
            key_hash: hash,
        });
        let Some(hash) = hash else {
            return (first, known);
        };
        self.hashes.clear();
        self.hashes.push(hash);
        while self.queue.len() < AHEAD_MAX - 1 {
            let next = decoder.decode(input, limits);
            match &next {
                Ok(None) => break,
                Ok(Some(Request::Empty)) => {
                    self.queue.push_back((next, None));
                    continue;
                }
                _ => {}
            }
            let (next_found, next_hash) = self.classify(state, &next, true);
            self.share_name(decoder);
            let next_known = next_found.map(|found| Known {
                found,
                key_hash: next_hash,
            });
            self.queue.push_back((next, next_known));
            match next_hash {
                Some(hash) => self.hashes.push(hash),
                None => break,
            }
        }
        if self.hashes.len() > 1 {
            if let Some(_section) = state.gate.try_shared() {
                state.keyspace.prefetch_keys(db, &self.hashes);
            }
        }
        (first, known)
    }
}

impl Lookahead {
    /// Puts a request back in front, to be handed out next (a connection moving from the epoll
    /// loop to tokio gives back the request it did not run).
    pub fn push_front(&mut self, request: (Decoded, Option<Known>)) {
        self.queue.push_front(request);
    }

    /// After a new command name: the decoder takes the following requests' names from the
    /// table's copy of it when they repeat it.
    #[inline]
    fn share_name(&mut self, decoder: &mut RequestDecoder) {
        if std::mem::take(&mut self.names_changed) {
            if let Some((_, found)) = &self.last_name {
                decoder.share_names(found.spellings);
            }
        }
    }

    /// The table's entry for a request's command when dispatch can take it as found: a
    /// command without subcommands (a container such as CONFIG is resolved with its
    /// subcommand by dispatch).
    fn command(&mut self, state: &ServerState, argv: &[bytes::Bytes]) -> Option<Found> {
        let name = argv.first()?;
        let found = match &self.last_name {
            Some((last, found)) if last.is(name) => *found,
            _ => {
                let found = state.registry.get(name)?;
                self.last_name = NameBytes::new(name).map(|n| (n, found));
                self.names_changed = true;
                found
            }
        };
        found.spec.subcommands.is_empty().then_some(found)
    }

    /// A decoded request's command as dispatch can take it (`command`) and, when `want_hash`
    /// and it is a plain key command, its key's hash: a command of the table with keys from its
    /// first argument, which cannot change how later requests decode (no connection, server,
    /// Pub/Sub, transaction, blocking or exclusive command).
    fn classify(
        &mut self,
        state: &ServerState,
        decoded: &Decoded,
        want_hash: bool,
    ) -> (Option<Found>, Option<u64>) {
        let Ok(Some(Request::Command(argv))) = decoded else {
            return (None, None);
        };
        let found = self.command(state, argv);
        let (Some(f), Some(key), true) = (found, argv.get(1), want_hash) else {
            return (found, None);
        };
        let keyed = matches!(f.spec.keys, KeySpec::Range { first: 1, .. });
        let special = flags::ADMIN
            | flags::PUBSUB
            | flags::BLOCKING
            | flags::NO_AUTH
            | flags::ALL_SHARDS
            | flags::NOT_QUEUED
            | flags::NOSCRIPT;
        let plain = keyed && !f.spec.has(special);
        (found, plain.then(|| state.keyspace.hash(key)))
    }
}
