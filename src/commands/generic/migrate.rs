//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
//! AUTH2 username password] [KEYS key ...]: moves keys to another server (redis-server or
//! ferrocache) as DUMP payloads that the target RESTOREs.
//!
//! Redis runs MIGRATE with its whole server blocked on the target's socket. Here no shard lock,
//! gate section or worker is held while the network is used; the command runs in three steps:
//!
//! 1. The command (dispatched as usual, holding its keys' shards) reads each existing key's
//!    payload and remaining TTL into a `Job` left in `ClientState::migrate`, and changes
//!    nothing. No existing key: `+NOKEY` at once.
//! 2. The connection task (`network_step`, called by `net::client` after dispatch) does the I/O with
//!    no lock held: a connection to the target from the cache (Redis's: one per `host:port`,
//!    closed after 10 s unused, at most 64), AUTH / AUTH2 and SELECT when needed (their replies
//!    read before any RESTORE is sent), then `RESTORE key ttl payload [REPLACE]` for every key,
//!    pipelined, and their replies. Every wait has the command's timeout.
//! 3. Unless COPY, the connection task dispatches the same request again with the outcome in
//!    `ClientState::migrate` (`Exchanged::DispatchAgain`; this module never calls dispatch): holding the keys' shards again, it deletes each key the target
//!    restored *if its payload is still the one sent* (a key another client changed meanwhile
//!    stays, so no write is lost), logs the deletions as DEL, and answers the reply of step 2.
//!
//! Replies are Redis 7's: `+OK`, `+NOKEY`, `-IOERR error or timeout connecting to the client`
//! (connect timeout), `-IOERR error or timeout writing to target instance` (refused
//! connection, write error), `-IOERR error or timeout reading to target instance`,
//! `-ERR Target instance replied with error: <its error>` (the first one; keys restored before
//! it are still deleted, as in Redis). A cached connection that fails before any reply is
//! retried once on a new connection, as Redis does. Differences: MIGRATE inside MULTI/EXEC or a
//! script answers an error (it would need the network inside the exclusive section); other
//! clients run between the steps (Redis blocks them); a refused SELECT sends no RESTORE (Redis
//! pipelines them, so its RESTOREs land in the target's current database).

use crate::command;
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
    ..command!(
        "migrate",
        -6,
        WRITE,
        KeySpec::Custom(migrate_keys),
        &["keyspace", "write", "slow", "dangerous"],
        "generic",
        "2.6.0",
        "Atomically transfers a key from one Redis instance to another.",
        migrate
    )
}];

/// Unused cached connections are closed after this long (Redis's MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL: Duration = Duration::from_secs(10);
/// At most this many cached connections (Redis's MIGRATE_SOCKET_CACHE_ITEMS).
const CACHE_ITEMS: usize = 64;

/// The stage a client carries (`ClientState::migrate`, typed `Any` there so the engine does not
/// depend on this module).
fn take_stage(slot: &mut Option<Box<dyn std::any::Any + Send + Sync>>) -> Option<Stage> {
    slot.take()
        .and_then(|stage| stage.downcast::<Stage>().ok())
        .map(|stage| *stage)
}

/// Where MIGRATE is between its steps (see the module comment).
#[derive(Debug)]
pub enum Stage {
    /// Step 1 done: what to send.
    Pending(Job),
    /// Step 2 done: what to delete and the reply.
    Done(Outcome),
}

#[derive(Debug)]
pub struct Job {
    host: String,
    port: u16,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    items: Vec<Item>,
}

#[derive(Debug)]
struct Item {
    key: Bytes,
    payload: Bytes,
    /// Remaining TTL in ms (0: none), as RESTORE takes it.
    ttl_ms: u64,
}

#[derive(Debug)]
pub struct Outcome {
    reply: Reply,
    /// Keys the target restored, with the payload sent: deleted if still that value.
    delete: Vec<(Bytes, Bytes)>,
}

/// The parsed arguments.
struct Args {
    host: String,
    port: u16,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    /// Argument indexes of the keys.
    keys: Vec<usize>,
}

fn parse(argv: &[Bytes]) -> Result<Args, CommandError> {
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = Vec::new();
    let mut i = 6;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "copy") {
            copy = true;
        } else if is(&argv[i], "replace") {
            replace = true;
        } else if is(&argv[i], "auth") {
            if more == 0 {
                return Err(CommandError::Syntax);
            }
            auth = Some((None, argv[i + 1].clone()));
            i += 1;
        } else if is(&argv[i], "auth2") {
            if more < 2 {
                return Err(CommandError::Syntax);
            }
            auth = Some((Some(argv[i + 1].clone()), argv[i + 2].clone()));
            i += 2;
        } else if is(&argv[i], "keys") {
            if !argv[3].is_empty() {
                return Err(CommandError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys.extend(i + 1..argv.len());
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let timeout = parse_i64(&argv[5])?;
    let db = parse_i64(&argv[4])?;
    if keys.is_empty() {
        keys.push(3);
    }
    // Redis's `getLongFromObjectOrReply` of the port happens at connection time: a port that is
    // not a number simply fails to connect.
    let port = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    Ok(Args {
        host: String::from_utf8_lossy(&argv[1]).into_owned(),
        port,
        db,
        timeout: Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 }),
        copy,
        replace,
        auth,
        keys,
    })
}

/// The key positions, as Redis's `migrateGetKeys`: argv[3], or the arguments after KEYS.
fn migrate_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    if argv.len() < 6 {
        return Vec::new();
    }
    if !argv[3].is_empty() {
        return vec![(None, 3)];
    }
    let mut i = 6;
    while i < argv.len() {
        if is(&argv[i], "auth") {
            i += 1;
        } else if is(&argv[i], "auth2") {
            i += 2;
        } else if is(&argv[i], "keys") {
            return (i + 1..argv.len()).map(|k| (None, k)).collect();
        }
        i += 1;
    }
    Vec::new()
}

fn migrate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let args = parse(argv)?;
    let compress = ctx.state.config.get_bool("rdbcompression");
    let now = ctx.now_ms;
    if let Some(Stage::Done(outcome)) = take_stage(&mut ctx.client.migrate) {
        return Ok(delete_unchanged(ctx, outcome, compress));
    }
    if ctx.client.blocking.nested {
        return Err(CommandError::err(
            "MIGRATE is not supported inside MULTI/EXEC or scripts",
        ));
    }
    let mut items = Vec::new();
    for &i in &args.keys {
        let key = &argv[i];
        let (shard, hash) = ctx.shard(key);
        if let Some(entry) = shard.get_read(hash, key, now) {
            let ttl_ms = entry
                .expire_at_ms()
                .map_or(0, |at| at.saturating_sub(now).max(1));
            let payload = crate::rdb::write::dump_payload(entry.value(), compress);
            items.push(Item {
                key: key.clone(),
                payload: payload.into(),
                ttl_ms,
            });
        }
    }
    if items.is_empty() {
        return Ok(Reply::status("NOKEY"));
    }
    ctx.client.migrate = Some(Box::new(Stage::Pending(Job {
        host: args.host,
        port: args.port,
        db: args.db,
        timeout: args.timeout,
        copy: args.copy,
        replace: args.replace,
        auth: args.auth,
        items,
    })));
    // Replaced by `network_step`'s reply.
    Ok(Reply::Ok)
}

/// Step 3: deletes the restored keys that still hold the value sent.
fn delete_unchanged(ctx: &mut Ctx<'_>, outcome: Outcome, compress: bool) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut deleted = Vec::new();
    for (key, payload) in &outcome.delete {
        let (shard, hash) = ctx.shard(key);
        let unchanged = shard.get_mut(hash, key, now).is_some_and(|entry| {
            crate::rdb::write::dump_payload(entry.value(), compress) == payload[..]
        });
        if unchanged {
            shard.remove(hash, key, now);
            ctx.key_changed(db, key);
            ctx.notify(notify::GENERIC, "del", db, key);
            deleted.push(key.clone());
        }
    }
    if deleted.is_empty() {
        ctx.propagate_nothing();
    } else if ctx.logging() {
        let mut del = Vec::with_capacity(deleted.len() + 1);
        del.push(Bytes::from_static(b"DEL"));
        del.extend(deleted);
        ctx.propagate(del);
    }
    outcome.reply
}

/// What the connection task does after MIGRATE's network step.
pub enum Exchanged {
    /// Nothing to delete: this is the reply.
    Reply(Reply),
    /// Dispatch the request again (step 3: delete the keys still holding the values sent),
    /// then `finish`.
    DispatchAgain,
}

/// Step 2, run by the connection task once dispatch returned with a pending MIGRATE: the
/// network exchange, with no lock held. `None` when no MIGRATE is pending.
pub async fn network_step(client: &mut crate::engine::ClientState) -> Option<Exchanged> {
    let Some(Stage::Pending(job)) = take_stage(&mut client.migrate) else {
        return None;
    };
    let outcome = transfer(&job).await;
    if outcome.delete.is_empty() {
        return Some(Exchanged::Reply(outcome.reply));
    }
    client.migrate = Some(Box::new(Stage::Done(outcome)));
    Some(Exchanged::DispatchAgain)
}

/// After step 3's dispatch: nothing of this MIGRATE is left in the client state.
pub fn finish(client: &mut crate::engine::ClientState) {
    client.migrate = None;
}

/// A cached connection to a target.
struct Cached {
    stream: BufReader<TcpStream>,
    /// The database selected on it (-1: unknown).
    db: i64,
    last_use: Instant,
}

static CACHE: Mutex<Option<HashMap<(String, u16), Cached>>> = Mutex::new(None);

fn take_cached(host: &str, port: u16) -> Option<Cached> {
    let mut cache = CACHE.lock();
    let map = cache.get_or_insert_with(HashMap::new);
    map.retain(|_, c| c.last_use.elapsed() < CACHE_TTL);
    map.remove(&(host.to_string(), port))
}

fn put_cached(host: &str, port: u16, mut conn: Cached) {
    conn.last_use = Instant::now();
    let mut cache = CACHE.lock();
    let map = cache.get_or_insert_with(HashMap::new);
    if map.len() >= CACHE_ITEMS {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, c)| c.last_use)
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert((host.to_string(), port), conn);
    static SWEEPER: std::sync::Once = std::sync::Once::new();
    SWEEPER.call_once(|| {
        // Closes connections unused for CACHE_TTL, as Redis's cron does.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if let Some(map) = CACHE.lock().as_mut() {
                        map.retain(|_, c| c.last_use.elapsed() < CACHE_TTL);
                    }
                }
            });
        }
    });
}

/// Why a transfer failed, as Redis words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IoError {
    Connect,
    Write,
    Read,
}

impl IoError {
    fn reply(self) -> Reply {
        Reply::error(match self {
            IoError::Connect => "IOERR error or timeout connecting to the client",
            IoError::Write => "IOERR error or timeout writing to target instance",
            IoError::Read => "IOERR error or timeout reading to target instance",
        })
    }
}

async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Cached, IoError> {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => Err(IoError::Connect),
        // A refused connection shows as the first write failing (Redis's non-blocking connect).
        Ok(Err(_)) => Err(IoError::Write),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(Cached {
                stream: BufReader::new(stream),
                db: -1,
                last_use: Instant::now(),
            })
        }
    }
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// One reply line of the target: Ok(()) for a success, Err(text) for an error reply.
async fn read_reply(conn: &mut Cached, timeout: Duration) -> Result<Result<(), String>, IoError> {
    let mut line = Vec::new();
    let read = async {
        let n = conn.stream.read_until(b'\n', &mut line).await?;
        if n == 0 || !line.ends_with(b"\r\n") {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        // A bulk reply (never expected here): skip its body.
        if line[0] == b'$' {
            let len: i64 = std::str::from_utf8(&line[1..line.len() - 2])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1);
            if len >= 0 {
                let mut body = vec![0; len as usize + 2];
                conn.stream.read_exact(&mut body).await?;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(())) => {}
        _ => return Err(IoError::Read),
    }
    let text = &line[..line.len() - 2];
    Ok(match text.first() {
        Some(b'-') => Err(String::from_utf8_lossy(&text[1..]).into_owned()),
        _ => Ok(()),
    })
}

async fn write_all(conn: &mut Cached, bytes: &[u8], timeout: Duration) -> Result<(), IoError> {
    match tokio::time::timeout(timeout, conn.stream.get_mut().write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(IoError::Write),
    }
}

fn target_error(text: &str) -> Reply {
    Reply::error(format!("ERR Target instance replied with error: {text}"))
}

/// Step 2: sends the job and reads the replies (no lock held). A cached connection that fails
/// before any reply is read is replaced once.
async fn transfer(job: &Job) -> Outcome {
    let mut retried = false;
    loop {
        let (cached, mut conn) = match take_cached(&job.host, job.port) {
            Some(conn) => (true, conn),
            None => match connect(&job.host, job.port, job.timeout).await {
                Ok(conn) => (false, conn),
                Err(e) => {
                    return Outcome {
                        reply: e.reply(),
                        delete: Vec::new(),
                    }
                }
            },
        };
        match exchange(job, &mut conn).await {
            Ok(outcome) => {
                put_cached(&job.host, job.port, conn);
                return outcome;
            }
            Err((e, replies_read)) => {
                // The connection is dropped (closed).
                if cached && !retried && replies_read == 0 && e != IoError::Connect {
                    retried = true;
                    continue;
                }
                return Outcome {
                    reply: e.reply(),
                    delete: Vec::new(),
                };
            }
        }
    }
}

/// AUTH / SELECT (each reply read before going on), then the RESTOREs pipelined. Err carries
/// the I/O failure and how many replies had been read.
async fn exchange(job: &Job, conn: &mut Cached) -> Result<Outcome, (IoError, usize)> {
    let t = job.timeout;
    let mut replies = 0usize;
    let mut preamble = Vec::new();
    let mut expected = 0;
    if let Some((user, password)) = &job.auth {
        match user {
            Some(user) => encode(&mut preamble, &[b"AUTH", user, password]),
            None => encode(&mut preamble, &[b"AUTH", password]),
        }
        expected += 1;
    }
    if conn.db != job.db {
        encode(&mut preamble, &[b"SELECT", job.db.to_string().as_bytes()]);
        expected += 1;
    }
    if expected > 0 {
        write_all(conn, &preamble, t).await.map_err(|e| (e, 0))?;
        // Every reply is read, so none is left for the next MIGRATE on this connection.
        let mut first_error = None;
        for _ in 0..expected {
            let reply = read_reply(conn, t).await.map_err(|e| (e, replies))?;
            replies += 1;
            if let Err(text) = reply {
                first_error.get_or_insert(text);
            }
        }
        if let Some(text) = first_error {
            // The selected database is unknown now.
            conn.db = -1;
            return Ok(Outcome {
                reply: target_error(&text),
                delete: Vec::new(),
            });
        }
        conn.db = job.db;
    }
    let mut out = Vec::new();
    for item in &job.items {
        let ttl = item.ttl_ms.to_string();
        let mut args: Vec<&[u8]> = vec![b"RESTORE", &item.key, ttl.as_bytes(), &item.payload];
        if job.replace {
            args.push(b"REPLACE");
        }
        encode(&mut out, &args);
    }
    write_all(conn, &out, t).await.map_err(|e| (e, replies))?;
    let mut first_error = None;
    let mut delete = Vec::new();
    for item in &job.items {
        let reply = read_reply(conn, t).await.map_err(|e| (e, replies))?;
        replies += 1;
        match reply {
            Err(text) => {
                first_error.get_or_insert(text);
            }
            Ok(()) if !job.copy => delete.push((item.key.clone(), item.payload.clone())),
            Ok(()) => {}
        }
    }
    Ok(Outcome {
        reply: first_error.map_or(Reply::Ok, |text| target_error(&text)),
        delete,
    })
}
