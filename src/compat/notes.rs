//! The rows of docs/compatibility.md's command tables: what differs from Redis 7.2, per
//! command. A command without a row here is shown as ✔ (every option, same replies); a Redis
//! 7.2 command the registry lacks as ✘. After adding a command or changing what it does, edit
//! its row and run `UPDATE_DOCS=1 cargo test --lib commands::compat` (docs/testing.md).

use crate::compat::Note;
use crate::compat::Status::{Full, Missing, Partial};

/// What is not there yet beyond whole command groups (README's "Not yet" list).
pub const NOT_YET_FEATURES: &[&str] = &[];

/// One row per note, in the order the tables show them (each in its command's group).
pub static NOTES: &[Note] = &[
    // Connection
    Note {
        commands: &["ping"],
        options: "[message]",
        status: Full,
        differences: "RESP2 and RESP3.",
    },
    // Connection
    Note {
        commands: &["echo"],
        options: "message",
        status: Full,
        differences: "",
    },
    // Connection
    Note {
        commands: &["select"],
        options: "index",
        status: Full,
        differences: "Redis's texts for non-integers, values outside a C int, and indexes outside `databases`. In cluster mode only 0: `ERR SELECT is not allowed in cluster mode`.",
    },
    // Connection
    Note {
        commands: &["quit"],
        options: "",
        status: Full,
        differences: "Replies `+OK`, then closes.",
    },
    // Connection
    Note {
        commands: &["reset"],
        options: "",
        status: Full,
        differences: "`+RESET`; back to db 0, RESP2, no name, replies on, NO-EVICT/NO-TOUCH off, MULTI and WATCH dropped, back to the `default` user, unauthenticated while it has a password. The library name/version stay, as in Redis.",
    },
    // Connection
    Note {
        commands: &["hello"],
        options: "[protover [AUTH user pass] [SETNAME name]]",
        status: Full,
        differences: "Redis 7.2's order of checks: the name is validated while parsing, authentication next, and the name is set only once HELLO succeeds (7.0 set it even when HELLO failed).",
    },
    // Connection
    Note {
        commands: &["auth"],
        options: "[user] password",
        status: Full,
        differences: "Checked against the ACL users (see [ACL](#acl)); `requirepass` is the `default` user's password. Redis's texts for AUTH without a configured password and WRONGPASS; a failed AUTH keeps the client's state and is written to the ACL LOG.",
    },
    // Connection
    Note {
        commands: &["client|id", "client|getname", "client|setname"],
        options: "",
        status: Full,
        differences: "Names: printable ASCII without spaces.",
    },
    // Connection
    Note {
        commands: &["client|setinfo"],
        options: "LIB-NAME|LIB-VER value",
        status: Full,
        differences: "Redis 7.2 texts; shown as `lib-name=` / `lib-ver=` in CLIENT LIST.",
    },
    // Connection
    Note {
        commands: &["client|list", "client|info"],
        options: "[TYPE t] [ID id ...]",
        status: Partial,
        differences: "Redis 7.2's field layout and order. Every connection is `normal`. `sub`/`psub`/`ssub` count subscriptions (flags `P` for subscribers, `O` for monitors). Computed as Redis does (tests/connection.rs compares them with redis-server): `qbuf` the query buffer not yet parsed into arguments (the caller's own line: the whole batch it runs, as Redis trims after it), `qbuf-free` its free room, `argv-mem` the bytes of the arguments held (the caller's command, a request partly arrived, a blocked command's), `multi-mem` the queued arguments plus a pointer each, `events` `r` or `rw` while output is pending, `cmd` with its subcommand (`client|list`). `omem` is output a large write left pending (`obl`/`oll` 0: one buffer per batch); `rbs`/`rbp` the 16 KiB buffer; `tot-mem` Redis's sum (output, query buffer, a 1 KiB client record plus reply buffer, arguments with a pointer each, transaction) over ferrocache's buffers.",
    },
    // Connection
    Note {
        commands: &["client|kill"],
        options: "addr | [ID|ADDR|LADDR|TYPE|USER|SKIPME|MAXAGE v ...]",
        status: Full,
        differences: "Old and new forms with Redis's texts; MAXAGE (Redis 7.4) is accepted as well. A killed connection closes at its next wake-up; the caller's own kill closes after its reply.",
    },
    // Connection
    Note {
        commands: &["client|reply"],
        options: "ON|OFF|SKIP",
        status: Full,
        differences: "Silences replies only: push frames (subscribe and unsubscribe confirmations, messages, tracking invalidations) are still delivered, in RESP2 as in RESP3, as Redis does.",
    },
    // Connection
    Note {
        commands: &["client|no-evict", "client|no-touch"],
        options: "ON|OFF",
        status: Partial,
        differences: "Shown in CLIENT LIST flags (`e`, `T`). NO-TOUCH is honoured: the client's lookups leave access bits alone, except TOUCH's, as in Redis 7.2. NO-EVICT is only recorded, as there is no client eviction (`maxmemory-clients`).",
    },
    // Connection
    Note {
        commands: &["client|pause", "client|unpause"],
        options: "timeout [WRITE|ALL]",
        status: Full,
        differences: "Requests really wait, awaited in their connection tasks (no worker sleeps): ALL holds every command of normal clients (CLIENT UNPAUSE included, as Redis), WRITE holds write and may-replicate commands (EVAL/EVALSHA/FCALL unless the script declares `no-writes`, PUBLISH, SPUBLISH, PFCOUNT) and a MULTI's queued writes when queued; unknown commands and arity errors answer at once. The more restrictive mode and the later deadline of two pauses win. Held requests resume in arrival order after UNPAUSE or the timeout and count in INFO `blocked_clients`, as in 7.0.15. While paused, keys neither expire (a read finds an expired key missing and leaves it) nor get evicted. CLIENT LIST shows a held client with flag `b` and its command. NOAUTH and NOPERM are answered at once, as Redis checks them first. Differences: an OOM refusal of a held request comes after the pause (Redis answers it at once); requests on `memcached-port` are not paused.",
    },
    // Connection
    Note {
        commands: &["client|unblock"],
        options: "id [TIMEOUT|ERROR]",
        status: Partial,
        differences: "TIMEOUT answers the command's timeout reply, ERROR `-UNBLOCKED client unblocked via CLIENT UNBLOCK`; 0 for a client that is not blocked.",
    },
    // Connection
    Note {
        commands: &["client|tracking", "client|caching", "client|getredir", "client|trackinginfo"],
        options: "",
        status: Partial,
        differences: "Every option (REDIRECT, BCAST, PREFIX, OPTIN, OPTOUT, NOLOOP) with Redis's rules and error texts; invalidations on write, delete, expiry, eviction and flush; tracking-table-max-keys. Difference: BCAST sends one invalidation per changed key as it changes, where Redis gathers the keys of one event-loop turn into one message (clients accept both). redis-py enables its client-side cache only for servers that report 7.4 or later; ferrocache reports 7.4.2, so it starts (tests/python/test_client_side_cache.py). See docs/pubsub.md.",
    },
    // Connection
    Note {
        commands: &["client|help"],
        options: "",
        status: Full,
        differences: "Redis 7.2's text.",
    },
    // Strings
    Note {
        commands: &["get", "mget", "strlen"],
        options: "",
        status: Full,
        differences: "Read lookups count keyspace hits/misses; MGET answers nil for a non-string.",
    },
    // Strings
    Note {
        commands: &["set"],
        options: "[NX|XX|IFEQ|IFNE|IFDEQ|IFDNE] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]",
        status: Full,
        differences: "Redis's option rules: a repeated option is accepted and the last value wins (only it is validated: `SET k v EX abc EX 10` is OK); conflicting ones are a syntax error; the expire argument is checked after the whole option list. Beyond Redis 7.2, IFEQ / IFNE (Redis 8.4's lock primitives): IFEQ writes only if the key exists and holds `v`; IFNE writes if the key is missing or holds anything else; otherwise nil. IFDEQ / IFDNE do the same with the value's XXH3 digest (see DIGEST); a digest argument that is not 16 hexadecimal digits is `ERR The digest must be exactly 16 hexadecimal characters`. Combines with GET (replies with the old value either way), EX/PX/EXAT/PXAT/KEEPTTL; with NX, XX or each other it is a syntax error; a non-string key is WRONGTYPE.",
    },
    // Strings
    Note {
        commands: &["setnx", "setex", "psetex", "getset", "getdel"],
        options: "",
        status: Full,
        differences: "`invalid expire time in 'setex'/'psetex' command` texts.",
    },
    // Strings
    Note {
        commands: &["getex"],
        options: "[EX|PX|EXAT|PXAT|PERSIST]",
        status: Full,
        differences: "The expire argument is validated only when the key exists (`GETEX missing EX abc` is nil, as in Redis 7.2); an EXAT/PXAT at or before now deletes the key after replying with it.",
    },
    // Strings
    Note {
        commands: &["mset", "msetnx"],
        options: "",
        status: Full,
        differences: "All shards of all keys locked at once, so the write is atomic; an even argument count is `wrong number of arguments`.",
    },
    // Strings
    Note {
        commands: &["msetex"],
        options: "numkeys key value [key value ...] [NX|XX] [EX|PX|EXAT|PXAT|KEEPTTL]",
        status: Full,
        differences: "Beyond Redis 7.2 (Redis 8.4). Atomic (every key's shard locked at once). `:1` when set, `:0` when NX found a key or XX a missing one (nothing written). No expiration option clears the keys' deadlines as MSET; KEEPTTL keeps each key's. `numkeys` outside 1..2147483647 is `ERR invalid numkeys value`, fewer pairs than it the arity error; SET's option rules (repeats allowed, conflicts a syntax error, `invalid expire time in 'msetex' command`). Logged with an absolute PXAT.",
    },
    // Strings
    Note {
        commands: &["digest"],
        options: "key",
        status: Full,
        differences: "Beyond Redis 7.2 (Redis 8.4). The XXH3 64-bit digest (seed 0) of the string value as 16 lowercase hexadecimal digits; nil for a missing key, WRONGTYPE for other types.",
    },
    // Strings
    Note {
        commands: &["append", "setrange"],
        options: "",
        status: Full,
        differences: "Capped at proto-max-bulk-len with overflow-checked lengths; SETRANGE with an empty value never creates the key; APPEND of an empty value creates an empty string. Both change the string in place with spare room (amortised O(1) per APPEND, as Redis's sds), and the value then reports `raw`, as in Redis.",
    },
    // Strings
    Note {
        commands: &["getrange", "substr"],
        options: "",
        status: Full,
        differences: "Redis 7.2 index rules, including `start > end` both negative giving an empty string.",
    },
    // Strings
    Note {
        commands: &["incr", "decr", "incrby", "decrby"],
        options: "",
        status: Full,
        differences: "Canonical 64-bit integers only (`1.0`, ` 1`, `+1`, `01` are refused); overflow and `decrement would overflow` (DECRBY of i64::MIN) errors. The deadline is kept.",
    },
    // Strings
    Note {
        commands: &["incrbyfloat"],
        options: "",
        status: Full,
        differences: "Computed like Redis on x86-64: both operands parsed as an 80-bit `long double` (correctly rounded `strtold`, hex floats and `inf` accepted), added in extended precision and printed with `%.17Lf` minus trailing zeros, in software (`string/long_double.rs`), so replies match byte for byte (`0.1` + `0.2` is `0.3`; `1e4000` prints all 4000 digits).",
    },
    // Strings
    Note {
        commands: &["lcs"],
        options: "[LEN] [IDX] [MINMATCHLEN] [WITHMATCHLEN]",
        status: Full,
        differences: "Redis's table and backtracking order; the table is bounded by proto-max-bulk-len with Redis's error text.",
    },
    // Lock primitives (beyond Redis 7.2)
    Note {
        commands: &["delifeq"],
        options: "key value",
        status: Full,
        differences: "Beyond Redis 7.2 (Valkey 9.0). `:1` if the key held exactly `value` and was deleted, `:0` if missing or different; WRONGTYPE for a non-string.",
    },
    // Lock primitives (beyond Redis 7.2)
    Note {
        commands: &["delex"],
        options: "key [IFEQ v | IFNE v | IFDEQ d | IFDNE d]",
        status: Full,
        differences: "Beyond Redis 7.2 (Redis 8.4). Without a condition, deletes the key like DEL (any type). IFEQ/IFNE compare the string value, IFDEQ/IFDNE its XXH3 digest as DIGEST prints it (16 hexadecimal digits, either case; other digest arguments are `ERR The digest must be exactly 16 hexadecimal characters`); WRONGTYPE for a non-string. `:1` deleted, `:0` missing or kept.",
    },
    // Bitmaps
    Note {
        commands: &["setbit", "getbit"],
        options: "",
        status: Full,
        differences: "Offsets bounded by proto-max-bulk-len (in bytes) with `bit offset is not an integer or out of range`; values other than 0/1 are `bit is not an integer or out of range`. As Redis 7.2, SETBIT raises `setbit` and is logged only when it created or grew the string or flipped the bit.",
    },
    // Bitmaps
    Note {
        commands: &["bitcount"],
        options: "[start end [BYTE|BIT]]",
        status: Full,
        differences: "Redis 7.2's order: the range and unit are checked before the key is looked up (7.0 answered 0 for a missing key whatever followed).",
    },
    // Bitmaps
    Note {
        commands: &["bitpos"],
        options: "bit [start [end [BYTE|BIT]]]",
        status: Full,
        differences: "Same 7.2 order of checks; a missing key is an endless run of zeros; with an explicit end, no clear bit in range is -1.",
    },
    // Bitmaps
    Note {
        commands: &["bitop"],
        options: "AND|OR|XOR|NOT|DIFF|DIFF1|ANDOR|ONE destkey key ...",
        status: Full,
        differences: "Beyond Redis 7.2: Redis 8.2's DIFF (first source and none of the others), DIFF1 (one or more of the others and not the first), ANDOR (first source and one or more of the others), ONE (exactly one source), with 8.2's `must be called with at least two source keys.` Every source is type-checked first; an empty result deletes the destination (`del`), otherwise `set` and the TTL is dropped.",
    },
    // Bitmaps
    Note {
        commands: &["bitfield", "bitfield_ro"],
        options: "GET|SET|INCRBY, OVERFLOW WRAP|SAT|FAIL, # offsets",
        status: Full,
        differences: "`i1`..`i64`/`u1`..`u63` types with Redis's arithmetic (a negative SET on an unsigned field saturates to the maximum under SAT, as Redis). The whole argument list is parsed before anything runs; BITFIELD_RO refuses writes with Redis's text. Strings are changed in place in a buffer with spare room (amortised O(1) per SETBIT at increasing offsets) and then report `raw`.",
    },
    // HyperLogLog
    Note {
        commands: &["pfadd"],
        options: "key [element ...]",
        status: Full,
        differences: "Redis's own representation (`HYLL` header, sparse and dense encodings, promotion at `hll-sparse-max-bytes` or a register above 32, MurmurHash64A), so GET bytes, PFCOUNT answers and DUMP payloads equal redis-server's (checked on 100k random elements). A non-HyperLogLog string is `WRONGTYPE Key is not a valid HyperLogLog string value.`, a corrupt one `INVALIDOBJ Corrupted HLL object detected`.",
    },
    // HyperLogLog
    Note {
        commands: &["pfcount"],
        options: "key [key ...]",
        status: Full,
        differences: "One key: the cached cardinality, or computed and cached (the key is then marked changed and PFCOUNT logged in the AOF, as Redis propagates it); several keys: the union, nothing cached.",
    },
    // HyperLogLog
    Note {
        commands: &["pfmerge"],
        options: "destkey [sourcekey ...]",
        status: Full,
        differences: "The destination takes part in the union; dense if any input is dense; `pfadd` event; the TTL is kept.",
    },
    // HyperLogLog
    Note {
        commands: &["pfdebug"],
        options: "GETREG|DECODE|ENCODING|TODENSE key",
        status: Full,
        differences: "Redis's texts.",
    },
    // HyperLogLog
    Note {
        commands: &["pfselftest"],
        options: "",
        status: Partial,
        differences: "Our own self-test of the register packing, both encodings and the estimate's error (not Redis's test procedure); `+OK`.",
    },
    // Keys and expiry
    Note {
        commands: &["sort", "sort_ro"],
        options: "[BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest]",
        status: Partial,
        differences: "Lists, sets and sorted sets; BY/GET with `*` keys and `->field` hash fields, `#`; BY without `*` keeps the value's order (a set is sorted when STORE is given, and inside a script, as Redis does). STORE writes a list or deletes the destination when empty. As Redis 7, BY with a pattern and GET need read access to every key. Difference: equal ALPHA BY weights keep the value's order (Redis's sort is not stable there). Both hold every shard while they run, since BY/GET keys are found by reading the value. In cluster mode BY with a pattern and GET are refused with Redis's texts.",
    },
    // Keys and expiry
    Note {
        commands: &["del", "unlink"],
        options: "",
        status: Full,
        differences: "UNLINK frees synchronously (values are freed in the shard, no lazy-free thread).",
    },
    // Keys and expiry
    Note {
        commands: &["exists", "touch", "type"],
        options: "",
        status: Full,
        differences: "Count keyspace hits/misses like Redis's read lookups. TYPE and EXISTS leave the keys' LRU/LFU stamps alone (Redis's LOOKUP_NOTOUCH); TOUCH stamps, even for a CLIENT NO-TOUCH client.",
    },
    // Keys and expiry
    Note {
        commands: &["keys"],
        options: "",
        status: Full,
        differences: "Glob syntax of `stringmatchlen` (`*` `?` `[a-z]` `[^x]` `\\x`), linear time, with Redis 7.2.6's limit of 1000 nested `*` (a pattern with more `*` followed by more pattern matches nothing; 7.0.15 has no limit). Order of keys differs from Redis (it is never specified). Expired keys are skipped.",
    },
    // Keys and expiry
    Note {
        commands: &["scan"],
        options: "cursor [MATCH] [COUNT] [TYPE]",
        status: Partial,
        differences: "Same options, errors and full-iteration guarantee (also across table growth). Cursors are our own (`shard + shards_per_db × slot`), so their values differ from Redis's; cursor parsing follows Redis's `strtoul` rules. COUNT counts entries sampled, at most 10 × COUNT slots per call; a call returns cursor 0 exactly when the iteration is complete. Unknown TYPE names match nothing (Redis 7.2 behaviour). Expired keys met are deleted, never returned.",
    },
    // Keys and expiry
    Note {
        commands: &["randomkey"],
        options: "",
        status: Full,
        differences: "Shard picked weighted by size, then random slots; never returns an expired key.",
    },
    // Keys and expiry
    Note {
        commands: &["rename", "renamenx"],
        options: "",
        status: Full,
        differences: "Keep the deadline.",
    },
    // Keys and expiry
    Note {
        commands: &["copy"],
        options: "[DB] [REPLACE]",
        status: Full,
        differences: "Keeps the deadline. In cluster mode another DB is refused with Redis's text.",
    },
    // Keys and expiry
    Note {
        commands: &["wait"],
        options: "numreplicas timeout",
        status: Full,
        differences: "Counts the replicas whose REPLCONF ACK reached the replication offset after this client's last write, as Redis; when too few have, `REPLCONF GETACK *` goes to every replica and the connection parks (no thread) until enough acknowledge or the timeout (ms, 0 = forever) passes, then answers the count. Inside MULTI it answers the count at once. On a replica, Redis's `WAIT cannot be used with replica instances` error.",
    },
    // Keys and expiry
    Note {
        commands: &["waitaof"],
        options: "numlocal numreplicas timeout",
        status: Partial,
        differences: "Replicas' AOF fsync offsets (REPLCONF FACK, Redis 7.2 replicas) are not tracked: the replica count is 0 (waited for until the timeout, as WAIT with none). With `appendonly no`, numlocal 1 is Redis's error and the local count is 0. With `appendonly yes` the local fsync is answered only under `appendfsync always` (a reply goes out after its fsync, so the local count is 1 at once); under `everysec` / `no` numlocal 1 is refused with `ERR WAITAOF numlocal 1 needs appendfsync always on this server` and numlocal 0 reports a local count of 0 (no fsync position is tracked).",
    },
    Note {
        commands: &["psync"],
        options: "replicationid offset",
        status: Full,
        differences: "+CONTINUE from the backlog for this node's replid (or replid2 up to second_repl_offset), else +FULLRESYNC and an RDB from a copy-on-write snapshot written by a thread (no fork): disk-based `$<len>` through a temp file in `dir` (not dump.rdb, which is left alone), or diskless `$EOF:<mark>` with `capa eof` and `repl-diskless-sync yes`. Each replica gets its own snapshot (`repl-diskless-sync-max-replicas` has no effect). A replica serves replicas of its own while its link is up (chained replication, as Redis 7: its snapshot carries its primary's replid, its offset and `repl-stream-db`, then the primary's stream is proxied byte for byte from its backlog), and answers NOMASTERLINK while it is down or while a FAILOVER runs. `PSYNC <replid> <offset> FAILOVER` from the primary makes a replica promote itself first (Redis's texts when it is a primary or the replid differs).",
    },
    Note {
        commands: &["sync"],
        options: "",
        status: Full,
        differences: "A full sync without the +FULLRESYNC line, as PSYNC's (redis-cli --rdb, --replica).",
    },
    Note {
        commands: &["replconf"],
        options: "option value [option value ...]",
        status: Full,
        differences: "listening-port, ip-address, capa eof/psync2, ACK (read by the replica link; no reply), GETACK (no reply), rdb-only and rdb-filter-only accepted (the whole dataset is sent).",
    },
    Note {
        commands: &["failover"],
        options: "[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]",
        status: Full,
        differences: "Redis 7's steps and texts: writes held (a pause of its own beside CLIENT PAUSE's; CLIENT UNPAUSE leaves it), the target (or the first replica) waited for until its ACK reaches master_repl_offset, then this node turns replica of it and sends `PSYNC <replid> <offset> FAILOVER`; TIMEOUT aborts (or, with FORCE, hands over anyway), ABORT at any step, `master_failover_state` in INFO. Works with redis-server on either side (tests/failover.rs). When no target is named, only an online replica is chosen.",
    },
    Note {
        commands: &["role"],
        options: "",
        status: Full,
        differences: "The primary form (offset, online replicas with their acknowledged offsets) and the replica form, as Redis's.",
    },
    // Keys and expiry
    Note {
        commands: &["migrate"],
        options: "host port key|\"\" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS key ...]",
        status: Partial,
        differences: "To redis-server or ferrocache: DUMP payloads RESTOREd by the target over a cached connection per `host:port` (closed after 10 s unused, at most 64), Redis's replies (`+NOKEY`, the `-IOERR ... connecting to the client` / `writing to target instance` / `reading to target instance` texts, `-ERR Target instance replied with error: ...`), a failed cached connection retried once. The network is used with no lock held: the payloads are read under the keys' locks, sent, and each restored key is then deleted (unless COPY) only if it still holds the value sent, logged as DEL. Differences: other clients run meanwhile (Redis blocks them; a key changed meanwhile stays here); inside MULTI/EXEC or a script it answers an error; a SELECT the target refuses sends no RESTORE (Redis's pipelined RESTOREs land in the target's current database); when keys are deleted the request is dispatched twice, so MONITOR and INFO commandstats show it twice.",
    },
    // Keys and expiry
    Note {
        commands: &["move"],
        options: "",
        status: Full,
        differences: "Keeps the deadline. Refused in cluster mode, as in Redis.",
    },
    // Keys and expiry
    Note {
        commands: &["object|encoding", "object|refcount", "object|help"],
        options: "",
        status: Partial,
        differences: "REFCOUNT reports 2147483647 for integers 0..9999 (Redis's shared integers) unless an LRU/LFU policy is set with maxmemory. ENCODING follows Redis 7.2's rules per type (the sections above each table); for sorted sets `listpack` while the set fits zset-max-listpack-entries/value (checked when a member is added), then `skiplist` for good; the STORE commands pick by the result's size. A listpack stores -0 as 0, as Redis does. Lists: Redis 7.2 switches a list back to `listpack` only when its quicklist has a single node; ferrocache decides from the total size, which differs only after middle inserts split a small list.",
    },
    // Keys and expiry
    Note {
        commands: &["object|idletime", "object|freq"],
        options: "",
        status: Full,
        differences: "FREQ errors unless an LFU policy is set, IDLETIME errors under LFU (Redis's texts). Real values: every read and write lookup stamps the key; OBJECT itself does not. FREQ decays with lfu-decay-time. LRU resolution is one second, as Redis's LRU clock.",
    },
    // Keys and expiry
    Note {
        commands: &["expire", "pexpire", "expireat", "pexpireat"],
        options: "[NX|XX|GT|LT]",
        status: Full,
        differences: "Redis's option conflicts and overflow errors; a deadline at or before now deletes the key.",
    },
    // Keys and expiry
    Note {
        commands: &["ttl", "pttl", "expiretime", "pexpiretime"],
        options: "",
        status: Full,
        differences: "Leave the key's LRU/LFU stamp alone, as in Redis.",
    },
    // Keys and expiry
    Note {
        commands: &["persist"],
        options: "",
        status: Full,
        differences: "",
    },
    // Server
    Note {
        commands: &["info"],
        options: "[section ...]",
        status: Partial,
        differences: "Every Redis 7.2 section and field name, `default`/`all`/`everything`, several sections per call, unknown sections give an empty reply; verbatim string in RESP3. INFO replication shows this primary's replicas and backlog; `mem_replication_backlog` and `mem_total_replication_buffers` are the bytes of the shared replication buffer. Figures without a ferrocache equivalent (forks, defrag, Lua memory, eventloop timings, the replication byte rates) show an idle standalone server's values. `used_memory` is jemalloc's allocated bytes; `used_memory_peak` is the highest value INFO has seen; `avg_ttl` is estimated from up to 16 volatile keys per shard; `latencystats` percentiles come from per-command power-of-two histograms of whole-microsecond durations, interpolated inside a bucket (Redis: HdrHistogram of nanoseconds); a `prefixstats` section (beyond Redis, not in the default set) gives hits and misses per key prefix; `used_cpu_*_main_thread` repeat the process totals. Redis 7.4's `expired_subkeys` (stats) and `subexpiry` (keyspace lines) for hash field expiry. On a replica, INFO replication has the replica fields of redis-server's, in its order.",
    },
    // Server
    Note {
        commands: &["command|count"],
        options: "",
        status: Partial,
        differences: "Counts ferrocache's commands, so it differs from Redis's 240+ (not compared in the differential suite).",
    },
    // Server
    Note {
        commands: &["command|list"],
        options: "[FILTERBY MODULE|ACLCAT|PATTERN]",
        status: Full,
        differences: "Lower-case names, subcommands as `parent|sub`; MODULE matches nothing.",
    },
    // Server
    Note {
        commands: &["command|info"],
        options: "[name ...]",
        status: Partial,
        differences: "Redis 7's 10-field entries; ACL categories derived from flags as Redis does. The whole entry (name, arity, flags, first/last/step, ACL categories, tips, key specs, subcommands: an array, or an empty set when there are none) is byte for byte redis-server 7.0.15's, RESP2 and RESP3, for every command and subcommand both have (checked by tests/command_table.rs, which also lists the commands beyond 7.0.15 with the Redis version that added them; PUBLISH, SPUBLISH, EVAL, EVALSHA and PFCOUNT also carry `may_replicate` and ZRANK/ZREVRANK arity -3, as Redis 7.2): commands whose keys play several roles (LMOVE, RENAME, COPY, the STORE forms, the `numkeys` commands, EVAL, FCALL, XREAD/XREADGROUP's `keyword STREAMS` search, shard channels as `not_key`) or whose key flags differ from their command flags (XDEL, XTRIM, the XGROUP subcommands ...) declare Redis's key specs (`engine/key_specs.rs`), the others derive one from their key positions.",
    },
    // Server
    Note {
        commands: &["command|docs"],
        options: "[name ...]",
        status: Partial,
        differences: "Every field: summary, since, group, complexity, doc_flags, deprecated_since, replaced_by, history, arguments (the full tree: name, type, key_spec_index, token, since, flags ...) and subcommands, byte for byte redis-server 7.0.15's in RESP2 and RESP3 (tests/command_docs.rs) except: summaries are Redis 7.2's wording; complexity of HSCAN/SSCAN/ZSCAN/ZRANDMEMBER as 7.2 words it; arguments added after 7.0 that ferrocache takes (ZRANK/ZREVRANK WITHSCORE with its history, CLIENT KILL MAXAGE, BITOP's DIFF/DIFF1/ANDOR/ONE, SET's IFEQ/IFNE) and the commands beyond 7.0 as redis.io documents them (DELEX lists only IFEQ/IFNE, the forms it takes). Where Redis 7.2 changed an argument table of a 7.0 command other than these, the tree is still 7.0.15's. redis-cli's interactive hints show every command's arguments.",
    },
    // Server
    Note {
        commands: &["command|getkeys", "command|getkeysandflags"],
        options: "",
        status: Full,
        differences: "Redis's error texts and check order; each key flagged by the key spec that found it (LMOVE's source `RW access delete`, destination `RW insert`); EVAL with no keys answers an empty list (`no_mandatory_keys`).",
    },
    // Server
    Note {
        commands: &["command|help"],
        options: "",
        status: Full,
        differences: "",
    },
    // Server
    Note {
        commands: &["dbsize"],
        options: "",
        status: Full,
        differences: "",
    },
    // Server
    Note {
        commands: &["flushdb", "flushall"],
        options: "[ASYNC|SYNC]",
        status: Full,
        differences: "Both modes free memory before replying, under every shard lock (atomic); WATCHed keys that existed are touched (except keys already expired when WATCHed, as Redis 7).",
    },
    // Server
    Note {
        commands: &["swapdb"],
        options: "index1 index2",
        status: Full,
        differences: "Atomic: every shard lock is held and shard contents change places pairwise; clients WATCHing a key present in either database are touched, with Redis 7's exceptions for expired keys (see WATCH). Refused in cluster mode, as in Redis.",
    },
    // Server
    Note {
        commands: &["lolwut"],
        options: "[VERSION version]",
        status: Full,
        differences: "Random art of the same shape as Redis's, drawn our own way: VERSION 5 Schotter squares in Braille (`cols squares-per-row squares-per-col`), VERSION 6 an 8-bit grey skyline of ANSI-coloured cells (`cols rows`), same captions, clamps and errors; any other version prints the version line alone. The line reads `Redis ver.` and the Redis version we report (INFO redis_version).",
    },
    // Server
    Note {
        commands: &["time", "lastsave"],
        options: "",
        status: Full,
        differences: "",
    },
    // Server
    Note {
        commands: &["replicaof", "slaveof"],
        options: "host port | NO ONE",
        status: Partial,
        differences: "Replicates a Redis 7 primary (docs/operations.md, Replication): PSYNC with partial resync, full resync from a disk-based or diskless RDB, masterauth/masteruser. The RDB of a full resync is always received to disk and loaded from there (`repl-diskless-load disabled`); while it loads, commands wait their turn instead of getting -LOADING. The link is plaintext: with `tls-replication yes` REPLICAOF fails (and start-up with `replicaof` stops). NO ONE promotes, keeping the old replication id as replid2; replicas of this node (chained) stay and continue partially. Refused while a FAILOVER runs, with Redis's text.",
    },
    // Server
    Note {
        commands: &["shutdown"],
        options: "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]",
        status: Partial,
        differences: "Stops the server at once with no reply (the connection closes), like Redis whose process exits. Saves the RDB first when save points are configured or SAVE is given (not with NOSAVE); a failed save keeps the server running with `ERR Errors trying to SHUTDOWN. Check logs.` unless FORCE. ABORT always answers `No shutdown in progress.` While another client's script is past `busy-reply-threshold`, only SHUTDOWN NOSAVE stops the server (the others answer BUSY), as in Redis.",
    },
    // Server
    Note {
        commands: &["memory|usage"],
        options: "key [SAMPLES n]",
        status: Partial,
        differences: "The bytes the keyspace accounts to the key (its slab slot, its entry at its exact length, a collection's allocations in their size classes), so numbers differ from Redis's; nil for a missing key.",
    },
    // Server
    Note {
        commands: &["memory|stats"],
        options: "",
        status: Partial,
        differences: "Redis 7.2's keys and order; `total.allocated` is INFO's used_memory (our allocation counter), `allocator.*` are jemalloc's figures, dataset from the keyspace accounting; `startup.allocated` is used memory when the server became ready (also INFO `used_memory_startup`); the client/replication/AOF/Lua buffers are 0; per-db `overhead.hashtable.main` is the keys' slab slots (8 bytes each), `overhead.hashtable.expires` the bytes the deadlines take inside their entries (5 per volatile key, 8 outside 2020-2054: there is no expires table).",
    },
    // Server
    Note {
        commands: &["memory|doctor", "memory|purge", "memory|malloc-stats", "memory|help"],
        options: "",
        status: Partial,
        differences: "DOCTOR gives Redis's \"empty instance\" or \"no issue\" report; PURGE asks jemalloc to purge every arena's dirty pages, as Redis does (after FLUSHALL of 300k keys RSS went from 62.6 MB to 18.2 MB); MALLOC-STATS summarizes jemalloc's counters instead of the full `malloc_stats_print` report.",
    },
    // Server
    Note {
        commands: &["function|list", "function|flush", "function|stats", "function|delete", "function|kill", "function|help"],
        options: "[LIBRARYNAME pattern] [WITHCODE], [ASYNC|SYNC]",
        status: Partial,
        differences: "Redis's replies, RESP2 and RESP3, and argument errors. LIST orders libraries by name and functions by registration (Redis: its hash-table order). STATS shows the running function (name, command, duration) while it runs. KILL stops a busy function like SCRIPT KILL stops a script; while an EVAL script runs it answers the BUSY error naming SCRIPT KILL, as Redis. FLUSH drops the functions VM at once in both modes.",
    },
    // Server
    Note {
        commands: &["module|list", "module|help", "module|load", "module|loadex", "module|unload"],
        options: "",
        status: Full,
        differences: "No modules: LIST is empty; LOAD, LOADEX and UNLOAD give Redis's \"not allowed\" text.",
    },
    // Server
    Note {
        commands: &["cluster|countkeysinslot", "cluster|getkeysinslot", "cluster|help", "cluster|info", "cluster|keyslot", "cluster|links", "cluster|myid", "cluster|myshardid", "cluster|nodes", "cluster|replicas", "cluster|saveconfig", "cluster|shards", "cluster|slaves", "cluster|slots", "cluster|count-failure-reports"],
        options: "",
        status: Partial,
        differences: "Emulated cluster mode (`cluster-enabled yes`, docs/scale-out.md): one primary owning all 16384 slots. SLOTS, SHARDS and NODES describe it (address: `cluster-announce-ip`, else the address the client connected to; port: `cluster-announce-port`, else `port`); KEYSLOT is CRC16 with hash tags; COUNTKEYSINSLOT reads a per-slot counter (O(1)); GETKEYSINSLOT walks database 0 (keys in another order than Redis); INFO answers `cluster_state:ok`; LINKS is empty; SAVECONFIG writes `cluster-config-file`, which keeps the node id. Replicas are listed once replication reports them. Without cluster mode every subcommand answers `ERR This instance has cluster support disabled`, as a standalone redis-server.",
    },
    // Cluster
    Note {
        commands: &["cluster|addslots", "cluster|addslotsrange", "cluster|bumpepoch", "cluster|delslots", "cluster|delslotsrange", "cluster|failover", "cluster|flushslots", "cluster|forget", "cluster|meet", "cluster|replicate", "cluster|reset", "cluster|set-config-epoch", "cluster|setslot"],
        options: "",
        status: Missing,
        differences: "The emulated cluster's topology is fixed: ADDSLOTS and ADDSLOTSRANGE answer Redis's `Slot <n> is already busy` (after its argument checks), the others are refused with an error naming the subcommand. Without cluster mode: `ERR This instance has cluster support disabled`.",
    },
    // Cluster
    Note {
        commands: &["asking", "readonly", "readwrite"],
        options: "",
        status: Full,
        differences: "`+OK` in cluster mode (there is no slot migration or replica read to enable); READONLY shows as flag `r` in CLIENT LIST until READWRITE or RESET, as in Redis. `ERR This instance has cluster support disabled` without cluster mode.",
    },
    // Server
    Note {
        commands: &["debug"],
        options: "subcommand",
        status: Partial,
        differences: "Refused with Redis's text unless `enable-debug-command` is `yes` (or `local` from a loopback address). DEBUG runs alone (nothing else runs beside it, as in Redis). Supported: HELP, OBJECT (Redis's one-line format; address, lru and serializedlength are ours), SET-ACTIVE-EXPIRE, SLEEP (stops every client, at most 60 s), PROTOCOL (every RESP type, RESP2 and RESP3, as redis-server 7.0.15), RELOAD [MERGE] [NOFLUSH] [NOSAVE] (save, empty the data and the Functions, load back; NOFLUSH without MERGE fails with the load's error on a key the file also holds, where Redis stops the server), LOADAOF (with `appendonly yes`: write the log, empty, replay; without the AOF an error, where Redis 7.0.15 exits), CHANGE-REPL-ID (a new replication ID, the previous one cleared, seen in INFO replication), STRINGMATCH-LEN (and 7.0's STRINGMATCH-TEST name: a bounded fuzz of the glob matcher), POPULATE (Redis's keys and values, not logged; stops with the OOM error once over `maxmemory`, where Redis fills on), DIGEST and DIGEST-VALUE (Redis's SHA1 digests, identical to redis-server 7.0.15's except for streams, which are digested from their DUMP payload), SET-SKIP-CHECKSUM-VALIDATION (RESTORE payloads only: RDB files are still checked), PAUSE-CRON (stops the active expiry cycle), RELOAD and LOADAOF inside a transaction whose earlier commands locked keys answer an error, QUICKLIST-PACKED-THRESHOLD (validated; lists have no plain nodes), ERROR, LOG. The crash, allocator and encoding-internals subcommands (ASSERT, PANIC, SEGFAULT, OOM, CRASH-AND-RECOVER, RESTART, LEAK, MALLCTL, MALLCTL-STR, SDSLEN, LISTPACK, QUICKLIST, HTSTATS, HTSTATS-KEY, STRUCTSIZE, AOF-FLUSH-SLEEP, REPLICATE, CONFIG-REWRITE-FORCE-ALL, CLIENT-EVICTION, REPLYBUFFER, DROP-CLUSTER-PACKET-FILTER, CLUSTERLINK) answer Redis's `unknown subcommand or wrong number of arguments for '<name>'. Try DEBUG HELP.`",
    },
    // Configuration
    Note {
        commands: &["config|get"],
        options: "pattern [pattern ...]",
        status: Full,
        differences: "Globs match names and aliases; an exact name (any case) is answered under the spelling asked for; a map (RESP3 `%`). Replies listing several options come in table order (Redis: hash order). The testing options `rdb-key-save-delay` and `key-load-delay` answer only their exact name, as Redis's hidden configs.",
    },
    // Configuration
    Note {
        commands: &["config|set"],
        options: "name value [name value ...]",
        status: Full,
        differences: "All pairs validated before any is applied; Redis's texts for unknown, immutable, protected (`dir`, `dbfilename` unless `enable-protected-configs`), duplicate and invalid values. `port`, `bind`, `tls-port`, `socket-mark-id` rebind the listeners at once; `tls-*` load a new TLS context. When that fails, every value of the call is restored and the reply is Redis's (`Unable to listen on this port. Check server logs.`, `Failed to bind to specified addresses.`, `Unable to update TLS configuration. Check server logs.`). Values refused because they cannot be honoured (`replicaof`, `cluster-enabled yes`) fail naming the option. Every option CONFIG GET * prints can be set back to its printed value, except the ones Redis also refuses as immutable or protected and ferrocache's `metrics-bind`/`metrics-port`, `event-loop` and `memcached-*` options (immutable; tests/config.rs checks this against redis-server). A multi-word option given on the command line as one quoted argument (`--client-output-buffer-limit \"normal 0 0 0 pubsub ...\"`, `--oom-score-adj-values \"0 200 800\"`) is split as Redis splits it.",
    },
    // Configuration
    Note {
        commands: &["config|resetstat"],
        options: "",
        status: Full,
        differences: "Server counters, keyspace hits/misses/expired/evicted, every command's call statistics, the memory peak.",
    },
    // Configuration
    Note {
        commands: &["config|rewrite"],
        options: "",
        status: Full,
        differences: "Redis's algorithm: lines of options already in the file are reused, extra ones dropped, non-default options appended after `# Generated by CONFIG REWRITE`, unknown lines commented `# ???`; written atomically (a synced temp file renamed over the file, then the directory synced), `replicaof <host> <port>` as Redis writes it, so Sentinel's failover leaves each node's file naming its role (tests/python/test_sentinel.py).",
    },
    // Configuration
    Note {
        commands: &["config|help"],
        options: "",
        status: Full,
        differences: "",
    },
    // Transactions
    Note {
        commands: &["multi", "exec", "discard"],
        options: "",
        status: Full,
        differences: "`+QUEUED` replies; a command refused while queuing (unknown, wrong arity, NOAUTH, not allowed in MULTI) makes EXEC answer `EXECABORT Transaction discarded because of previous errors.`; runtime errors appear in place in EXEC's array and do not stop the rest; `MULTI calls can not be nested`, `EXEC without MULTI`, `DISCARD without MULTI`. SAVE, SHUTDOWN and other no-multi commands are refused while queuing (`Command not allowed inside a transaction`); a CONFIG SET that fails at EXEC is one error in the array. EXEC runs alone (no other command runs meanwhile), so no client sees part of a transaction. While another client's script is BUSY, a command sent in MULTI answers BUSY and flags the transaction, and EXEC answers `EXECABORT Transaction discarded because of: BUSY ...` and leaves MULTI (also without MULTI), as Redis does.",
    },
    // Transactions
    Note {
        commands: &["watch", "unwatch"],
        options: "key [key ...]",
        status: Full,
        differences: "EXEC answers nil when a watched key was written, deleted, expired (also an expiry noticed at EXEC time, as Redis 7), flushed (FLUSHDB/FLUSHALL of an existing key) or swapped away (SWAPDB) since WATCH, by any client including this one. Redis 7's rules for logically expired keys: a key already past its deadline but not yet deleted when WATCHed is no change when it is then deleted (lazily, by active expiry, FLUSHDB or SWAPDB to an empty or equally stale key); an absent watched key replaced by SWAPDB with a stale one is no change either. `WATCH inside MULTI is not allowed`. EXEC, DISCARD, RESET and disconnect unwatch. WATCH, UNWATCH, MULTI and DISCARD run while a script is BUSY; a key watched then and written later by that script fails EXEC.",
    },
    // Scripting
    Note {
        commands: &["eval"],
        options: "script numkeys [key ...] [arg ...]",
        status: Partial,
        differences: "Redis 7.2's argument checks, conversions and error texts (`ERR user_script:1: ... script: <sha>, on @user_script:1.`). A script may touch keys it did not declare (it runs alone, locking each shard when it first touches it). `#!lua flags=...` shebangs are parsed; `no-writes` makes the script read-only, `allow-oom` lets its writes run over maxmemory (and a shebang without either makes the script DENYOOM, as in Redis), the other flags are accepted without effect (but `no-cluster`, which refuses the script in cluster mode with Redis's text). In cluster mode EVAL's declared keys must share a slot (-CROSSSLOT) and a `redis.call` whose keys do not fails with Redis's `Script attempted to access a non local key in a cluster node`; calls on different slots one by one are allowed, as in Redis 7.0. The EVAL cache keeps at most 500 scripts sent only by EVAL (least recently used evicted, like Redis 7.4); SCRIPT LOAD'ed scripts stay until SCRIPT FLUSH. Library tables are read-only proxies (see The Lua environment below).",
    },
    // Scripting
    Note {
        commands: &["evalsha"],
        options: "sha1 numkeys [key ...] [arg ...]",
        status: Full,
        differences: "`NOSCRIPT No matching script. Please use EVAL.`; the SHA is case-insensitive.",
    },
    // Scripting
    Note {
        commands: &["eval_ro", "evalsha_ro"],
        options: "",
        status: Full,
        differences: "Write commands answer `ERR Write commands are not allowed from read-only scripts.`",
    },
    // Scripting
    Note {
        commands: &["script|load", "script|exists", "script|help"],
        options: "",
        status: Full,
        differences: "",
    },
    // Scripting
    Note {
        commands: &["script|flush"],
        options: "[ASYNC|SYNC]",
        status: Partial,
        differences: "Both modes flush at once: the VM is dropped and a fresh one is made on next use.",
    },
    // Scripting
    Note {
        commands: &["script|kill"],
        options: "",
        status: Full,
        differences: "`NOTBUSY` with no script running, `UNKILLABLE` once the script has written, Redis's `BUSY ... You can only call FUNCTION KILL ...` while a function runs; otherwise the script stops at its next instruction-count hook (every 100,000 instructions) with `ERR Script killed by user with SCRIPT KILL...`.",
    },
    // Scripting
    Note {
        commands: &["script|debug"],
        options: "",
        status: Partial,
        differences: "`NO` is accepted; `YES`/`SYNC` answer an error (no Lua debugger).",
    },
    // Scripting
    Note {
        commands: &["function|load"],
        options: "[REPLACE] code",
        status: Partial,
        differences: "`#!lua name=<lib>` libraries with `redis.register_function` in both forms (positional, and the named table with `function_name`, `callback`, `flags`, `description`) and every flag (`no-writes`, `allow-oom`, `allow-stale`, `no-cluster`, `allow-cross-slot-keys`); the library's chunk sees only the library API while it loads, as in Redis; Redis 7.0's error text for every misuse (metadata, engine, names, arguments, flags, duplicates, compile and runtime errors); a load running past 500 ms fails with `FUNCTION LOAD timeout`. Function names are case-insensitive for FCALL (as in Redis) and within a library (Redis 7.0.15 accepts `f` and `F` in one library; a later REPLACE of that library brought redis-server down in our tests).",
    },
    // Scripting
    Note {
        commands: &["function|dump", "function|restore"],
        options: "[FLUSH|APPEND|REPLACE]",
        status: Partial,
        differences: "The payload is Redis's (FUNCTION2 records, RDB version 10, CRC64): payloads from redis-server 7.0/7.2 restore here and ours in redis-server; the compressed bytes of a long library can differ from Redis's (our LZF compressor), not their meaning.",
    },
    // Scripting
    Note {
        commands: &["fcall", "fcall_ro"],
        options: "function numkeys [key ...] [arg ...]",
        status: Partial,
        differences: "Keys and arguments passed to the callback, EVAL's conversions and error texts (`... script: <function>, on @user_function:<line>.`), `Function not found`, `Bad number of keys provided`, FCALL_RO of a function without `no-writes` refused; `no-writes` functions run read-only, `allow-oom` ones write over maxmemory, others are refused with OOM like DENYOOM commands. Runs alone like EVAL (keys not declared are reachable); `allow-stale`, `no-cluster`, `allow-cross-slot-keys` have no effect on a standalone server; in cluster mode `no-cluster` refuses the function with Redis's text. Persisted in RDB files (the FUNCTION2 opcode, read from and written for redis-server) and in the AOF (FUNCTION LOAD/DELETE/FLUSH/RESTORE as commands, the libraries in a rewritten base). COMMAND INFO and COMMAND GETKEYS describe the keys as Redis (a `numkeys` key spec, `no_mandatory_keys`).",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["slowlog|get"],
        options: "[count]",
        status: Full,
        differences: "Entries `[id, unix time, duration µs, argv, ip:port, client name]`, newest first; default 10, -1 for all; Redis's count error texts. Arguments trimmed like Redis (32 arguments, the last saying `... (N more arguments)`; 128 bytes each plus `... (N more bytes)`); passwords replaced by `(redacted)` (AUTH, HELLO AUTH, CONFIG SET requirepass/masterauth/masteruser, ACL SETUSER, MIGRATE AUTH/AUTH2). Commands queued in MULTI are logged one by one and EXEC is not (SKIP_SLOWLOG); commands called by scripts are logged with `?:0` and no name, like Redis's Lua client. The duration starts once the command has its turn and its shard locks (dispatch never waits for them; a command that must wait is dispatched again), so it includes only the waits of commands that visit shards one at a time (Redis, single-threaded, never waits).",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["slowlog|len", "slowlog|reset", "slowlog|help"],
        options: "",
        status: Full,
        differences: "Ids keep counting across RESET. `slowlog-log-slower-than` (-1 disables, 0 logs everything) and `slowlog-max-len` apply at once through CONFIG SET; a shorter max-len trims the log when it is next read or written (Redis trims after every command; the contents seen are the same).",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["latency|latest", "latency|history", "latency|reset", "latency|help"],
        options: "",
        status: Full,
        differences: "Per-event series as Redis keeps them: one sample per second (the worst), the last 160, the all-time maximum; `latency-monitor-threshold` in milliseconds (0 disables). Events: `command` and `fast-command` (commands flagged `fast`), measured like SLOWLOG durations. Redis's other events (`expire-cycle`, `eviction-*`, `aof-*`, `fork`, ...) never fire.",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["latency|doctor"],
        options: "",
        status: Partial,
        differences: "Redis's report texts for the events above, including the slow-log and transparent-huge-pages advice; advice tied to events that never fire here is never given.",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["latency|graph"],
        options: "event",
        status: Full,
        differences: "Redis's 80-column ASCII sparkline with age labels.",
    },
    // Observability (SLOWLOG, LATENCY)
    Note {
        commands: &["latency|histogram"],
        options: "[command ...]",
        status: Full,
        differences: "Redis's bucket names (1, 2, 4, 8, 16, 33, 66 ... µs) and cumulative counts; durations measured in whole microseconds. A container name lists its subcommands; unknown names are skipped.",
    },
    // Pub/Sub
    Note {
        commands: &["subscribe", "psubscribe", "ssubscribe"],
        options: "",
        status: Partial,
        differences: "One confirmation frame per channel; counts as Redis (channels + patterns; shard channels counted apart). Push frames in RESP3. For the shard forms (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) COMMAND INFO reports the channel as a `not_key` key spec, as Redis; COMMAND GETKEYS answers `The command has no key arguments`.",
    },
    // Pub/Sub
    Note {
        commands: &["unsubscribe", "punsubscribe", "sunsubscribe"],
        options: "",
        status: Partial,
        differences: "Without arguments: every subscription, one frame each (in an unspecified order, as Redis's dict order), or a nil name and count 0 when there is none. For the shard forms (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) COMMAND INFO reports the channel as a `not_key` key spec, as Redis; COMMAND GETKEYS answers `The command has no key arguments`.",
    },
    // Pub/Sub
    Note {
        commands: &["publish", "spublish"],
        options: "",
        status: Partial,
        differences: "Returns the number of receivers (pattern matches included for PUBLISH). Patterns use KEYS' glob matcher. Shard channels are a separate namespace; in cluster mode the channels of one SSUBSCRIBE/SUNSUBSCRIBE must share a slot (-CROSSSLOT), as keys. For the shard forms (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) COMMAND INFO reports the channel as a `not_key` key spec, as Redis; COMMAND GETKEYS answers `The command has no key arguments`. A (P|S)(UN)SUBSCRIBE that reached the server before a PUBLISH applies first, as in Redis's single loop, for connections already subscribed to something (a connection's very first SUBSCRIBE is applied when its task reads it); see docs/pubsub.md, \"Ordering guarantees\".",
    },
    // Pub/Sub
    Note {
        commands: &["pubsub|channels", "pubsub|numsub", "pubsub|numpat", "pubsub|shardchannels", "pubsub|shardnumsub", "pubsub|help"],
        options: "",
        status: Full,
        differences: "CHANNELS lists are sorted (Redis: dict order).",
    },
    // Pub/Sub
    Note {
        commands: &["monitor"],
        options: "",
        status: Full,
        differences: "Redis 7 layout and quoting, EXEC/EVAL ordering, `[db lua]` for script calls, AUTH/HELLO redaction, admin commands hidden. A blocked command (BLPOP ...) is shown once, when it arrives, not again when a write serves it (the serving write is shown), as Redis.",
    },
    // Sorted sets
    Note {
        commands: &["zadd"],
        options: "[NX|XX] [GT|LT] [CH] [INCR]",
        status: Full,
        differences: "Redis's option checks and texts; scores parsed like `strtod` (hex floats, `inf`/`infinity`; overflow, underflow, NaN and spaces refused); an INCR that would give NaN (`inf` + `-inf`) is `ERR resulting score is not a number (NaN)` and stores nothing. XX never creates the key. Events `zadd` / `zincr` only when something changed.",
    },
    // Sorted sets
    Note {
        commands: &["zincrby", "zrem", "zscore", "zmscore", "zcard"],
        options: "",
        status: Full,
        differences: "Scores are RESP3 doubles. An emptied key is deleted (`del` event after `zrem`).",
    },
    // Sorted sets
    Note {
        commands: &["zrank", "zrevrank"],
        options: "[WITHSCORE]",
        status: Full,
        differences: "WITHSCORE as Redis 7.2 (7.0.15 lacks it: `@ours` cases).",
    },
    // Sorted sets
    Note {
        commands: &["zrange", "zrevrange", "zrangebyscore", "zrevrangebyscore", "zrangebylex", "zrevrangebylex"],
        options: "[BYSCORE|BYLEX] [REV] [LIMIT] [WITHSCORES]",
        status: Full,
        differences: "Ranges parsed before the lookup with Redis's rules: a score bound is read like C's `strtod` with only the end checked (leading spaces, the empty string as 0, text after a NUL ignored), `(` for exclusive; lex bounds `-`, `+`, `[x`, `(x`. A negative LIMIT offset gives an empty result, a negative count no limit. RESP3 WITHSCORES replies are `[member, score]` pairs. Lex ranges on a set whose scores differ are answered by binary search over the order: Redis leaves that case unspecified and its skiplist walk may pick other members.",
    },
    // Sorted sets
    Note {
        commands: &["zrangestore"],
        options: "",
        status: Full,
        differences: "Replaces the destination (its TTL too); an empty result deletes it.",
    },
    // Sorted sets
    Note {
        commands: &["zcount", "zlexcount"],
        options: "",
        status: Full,
        differences: "O(log N + N/128): two rank searches.",
    },
    // Sorted sets
    Note {
        commands: &["zremrangebyrank", "zremrangebyscore", "zremrangebylex"],
        options: "",
        status: Full,
        differences: "",
    },
    // Sorted sets
    Note {
        commands: &["zunion", "zinter", "zdiff", "zunionstore", "zinterstore", "zdiffstore"],
        options: "[WEIGHTS] [AGGREGATE] [WITHSCORES]",
        status: Full,
        differences: "Plain sets are accepted as inputs (score 1). Every input is type-checked before the options are parsed (WRONGTYPE before a syntax error, as Redis). `weight * score` and SUM results that are NaN become 0.",
    },
    // Sorted sets
    Note {
        commands: &["zintercard"],
        options: "[LIMIT]",
        status: Full,
        differences: "",
    },
    // Sorted sets
    Note {
        commands: &["zpopmin", "zpopmax"],
        options: "[count]",
        status: Full,
        differences: "Without a count the reply is one flat `[member, score]` in both protocols; with a count RESP3 gets pairs.",
    },
    // Sorted sets
    Note {
        commands: &["zmpop"],
        options: "",
        status: Full,
        differences: "`[key, [[member, score], ...]]`; logged in the AOF as ZPOPMIN/ZPOPMAX key count.",
    },
    // Sorted sets
    Note {
        commands: &["bzpopmin", "bzpopmax", "bzmpop"],
        options: "",
        status: Partial,
        differences: "On `crate::engine::blocking`: served at once when a key holds a sorted set, otherwise parked (FIFO per key, woken by ZADD and every other write to the key, timeouts with fractional seconds, a null array on timeout and at once inside MULTI/EXEC). Logged as ZPOPMIN/ZPOPMAX. NOSCRIPT, as Redis 7.0.15 reports. Difference: served after the writer's locks are released, as BLPOP (Lists).",
    },
    // Sorted sets
    Note {
        commands: &["zrandmember"],
        options: "[count [WITHSCORES]]",
        status: Full,
        differences: "Distinct members for a positive count, independent picks for a negative one; the whole set (count >= size) comes highest score first, as Redis's listpack walk. A very large negative count is served in full, as Redis does (the reply is that large).",
    },
    // Sorted sets
    Note {
        commands: &["zscan"],
        options: "[MATCH] [COUNT]",
        status: Full,
        differences: "A set small enough for a listpack is returned whole with cursor 0 in score order, as Redis; larger sets use a slot-number cursor (every member present for the whole iteration is returned). TYPE is a syntax error, as Redis.",
    },
    // Geo
    Note {
        commands: &["geoadd"],
        options: "[NX|XX] [CH] longitude latitude member ...",
        status: Full,
        differences: "Positions stored as Redis's 52-bit geohash scores (a GEOADD is a ZADD of them: same replies, `zadd` events); Redis's texts for positions outside the Web Mercator limits (`invalid longitude,latitude pair %f,%f`).",
    },
    // Geo
    Note {
        commands: &["geodist", "geohash", "geopos"],
        options: "[M|KM|FT|MI]",
        status: Full,
        differences: "Distances and coordinates printed as Redis prints them (four decimals from the value times 10^4 rounded half to even; coordinates as `%.17Lf` without trailing zeros, RESP3 doubles); any zset member decodes, whatever its score.",
    },
    // Geo
    Note {
        commands: &["geosearch", "geosearchstore"],
        options: "FROMMEMBER|FROMLONLAT BYRADIUS|BYBOX [ASC|DESC] [COUNT [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH] [STOREDIST]",
        status: Full,
        differences: "Redis's search: the same cells read in the same order, so the same members; the same order of equal distances (whole sorts stable, COUNT's partial sort as Redis's quicksort); Redis's option grammar and error order.",
    },
    // Geo
    Note {
        commands: &["georadius", "georadiusbymember", "georadius_ro", "georadiusbymember_ro"],
        options: "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT [ANY]] [ASC|DESC] [STORE|STOREDIST key]",
        status: Full,
        differences: "As GEOSEARCH (deprecated forms); STORE and STOREDIST write a sorted set (event `georadiusstore`), the last one given wins.",
    },
    // Streams
    Note {
        commands: &["xadd", "xtrim"],
        options: "NOMKSTREAM MAXLEN|MINID [=|~] threshold [LIMIT count] *|ms-*|id",
        status: Partial,
        differences: "Entries live in blocks that end where Redis's listpack nodes end: at `stream-node-max-entries` entries (deleted ones still count) or when Redis's listpack bytes (computed as Redis encodes them) plus the new entry's strings reach `stream-node-max-bytes`; so `~` trims the same whole nodes as Redis. Difference: after loading an RDB node that held deleted entries their bytes are unknown, so that node may take a few more entries than in Redis. An approximate trim is logged as the exact trim it amounted to.",
    },
    // Streams
    Note {
        commands: &["xread", "xreadgroup"],
        options: "COUNT BLOCK GROUP NOACK STREAMS `$` `>`",
        status: Full,
        differences: "BLOCK on `crate::engine::blocking`: a blocked read is re-run on every write to its keys with `$` fixed to the ID it stood for (Redis 7.2's re-execution), so a deleted key or destroyed group answers -NOGROUP; a null array at once inside MULTI/EXEC; refused in scripts. XREADGROUP creates its consumer and sets its seen-time on every attempt, served or not (Redis 7.2; 7.0 only when served), and is logged as forced XCLAIMs plus XGROUP SETID.",
    },
    // Streams
    Note {
        commands: &["xclaim", "xautoclaim"],
        options: "IDLE TIME RETRYCOUNT FORCE JUSTID LASTID / COUNT JUSTID",
        status: Full,
        differences: "Every call creates the consumer and sets its seen-time; only a claim sets its active-time (Redis 7.2). Logged as one forced XCLAIM per claimed or dropped entry, as Redis propagates them.",
    },
    // Streams
    Note {
        commands: &["xdelex", "xackdel"],
        options: "[KEEPREF | DELREF | ACKED] IDS numids id [id ...]",
        status: Partial,
        differences: "Beyond Redis 7.2 (Redis 8.2, from redis.io; no 8.2 server to compare with). One code per ID: -1 no such entry (XACKDEL: not pending in the group; a missing key or group answers all -1), 1 deleted, 2 kept by ACKED because a group still has it pending or has not read that far. DELREF also drops the ID from every group's PEL. Error texts for a bad `numids` follow Redis 8.2's source as we understand it, unverified. XADD/XTRIM's KEEPREF/DELREF/ACKED are not supported.",
    },
    // Streams
    Note {
        commands: &["xinfo|stream"],
        options: "[FULL [COUNT count]]",
        status: Full,
        differences: "`radix-tree-nodes` is counted for the radix tree Redis builds from the same node keys. FULL shows Redis 7.2's consumer `active-time`.",
    },
    // Streams
    Note {
        commands: &["xinfo|consumers"],
        options: "",
        status: Full,
        differences: "Redis 7.2's fields (`inactive` included).",
    },
    // Hashes
    Note {
        commands: &["hset", "hmset", "hsetnx"],
        options: "",
        status: Full,
        differences: "An odd number of field/value arguments is the arity error (before the type check, as Redis). Event `hset` (HSETNX only when it set).",
    },
    // Hashes
    Note {
        commands: &["hget", "hmget", "hexists", "hlen", "hstrlen", "hkeys", "hvals", "hgetall"],
        options: "",
        status: Full,
        differences: "HGETALL is a RESP3 map.",
    },
    // Hashes
    Note {
        commands: &["hdel"],
        options: "",
        status: Full,
        differences: "Event `hdel`; an emptied key is deleted (`del`).",
    },
    // Hashes
    Note {
        commands: &["hincrby"],
        options: "",
        status: Full,
        differences: "`ERR hash value is not an integer`, overflow `ERR increment or decrement would overflow`. A field's deadline (Redis 7.4) is kept.",
    },
    // Hashes
    Note {
        commands: &["hincrbyfloat"],
        options: "",
        status: Full,
        differences: "Extended (80-bit) precision as Redis's `long double` (`0.1` + `0.2` = `0.3`), shared with INCRBYFLOAT; `ERR value is NaN or Infinity` for an infinite increment, `ERR increment would produce NaN or Infinity`; written to the AOF as HSET of the result (followed by HPEXPIREAT when the field has a deadline, which it keeps).",
    },
    // Hashes
    Note {
        commands: &["hrandfield"],
        options: "[count [WITHVALUES]]",
        status: Partial,
        differences: "Distinct fields for a positive count (the whole hash, in order, when count >= size), independent uniform picks for a negative one; RESP3 WITHVALUES gives pairs. Redis's range checks (`-LONG_MAX/2` with WITHVALUES). **Difference:** a negative count below -16 777 216 is `ERR value is out of range` (Redis would build a reply of that many elements until memory runs out).",
    },
    // Hashes
    Note {
        commands: &["hscan"],
        options: "[MATCH] [COUNT] [NOVALUES]",
        status: Full,
        differences: "A `listpack` hash comes back whole with cursor 0, as in Redis. A larger one is walked by slot position: every field present for the whole iteration is returned at least once, also when the hash grows or shrinks meanwhile (the slab compacts by moving fields only to higher positions). NOVALUES (Redis 7.4) returns the fields only.",
    },
    // Hashes
    Note {
        commands: &["hexpire", "hpexpire", "hexpireat", "hpexpireat"],
        options: "[NX | XX | GT | LT] FIELDS numfields field ...",
        status: Partial,
        differences: "Beyond Redis 7.2 (Redis 7.4, from redis.io; no 7.4 server to compare with). One code per field: -2 no such field or key, 0 condition not met, 1 set, 2 deleted (deadline not in the future). Deadlines up to 2^46-1 ms, Redis 7.4's error texts. Events `hexpire`, `hexpired` for deleted fields, `del` when the key is emptied; logged as HPEXPIREAT with absolute ms and HDEL. Expired fields are removed lazily by every hash command and actively by the expiry sweep (`hexpired`, HDEL in the AOF); until then non-hash commands (EXISTS, TYPE, SCAN, DUMP, RENAME) still see a hash whose fields have all expired. A `listpackex` hash keeps Redis 7.4's order: fields with a deadline first, earliest first; a field losing its deadline (HPERSIST, HSET) moves last. HSET/HSETNX replace a field and drop its deadline; HINCRBY/HINCRBYFLOAT keep it (redis.io: a value changed in place keeps its TTL).",
    },
    // Hashes
    Note {
        commands: &["httl", "hpttl", "hexpiretime", "hpexpiretime"],
        options: "FIELDS numfields field ...",
        status: Partial,
        differences: "Beyond Redis 7.2 (Redis 7.4, from redis.io). -2 no such field or key, -1 no deadline; seconds round up.",
    },
    // Hashes
    Note {
        commands: &["hpersist"],
        options: "FIELDS numfields field ...",
        status: Partial,
        differences: "Beyond Redis 7.2 (Redis 7.4, from redis.io). -2 no such field or key, -1 no deadline, 1 removed; event `hpersist`.",
    },
    // Hashes
    Note {
        commands: &["hgetdel", "hgetex", "hsetex"],
        options: "FIELDS numfields ... / [EX | PX | EXAT | PXAT | PERSIST] / [FNX | FXX] [EX | PX | EXAT | PXAT | KEEPTTL]",
        status: Partial,
        differences: "Beyond Redis 7.2 (Redis 8.0, from redis.io; no 8.0 server to compare with). HGETDEL: the values, fields deleted (event `hgetdel`, `del` when emptied; logged as HDEL). HGETEX: the values, deadlines set (`hexpire`, logged as HPEXPIREAT) or cleared (`hpersist`). HSETEX: 1 when all fields were set, 0 when FNX/FXX kept them all; events `hset` and `hexpire`; logged with PXAT. A repeated or conflicting option is `ERR syntax error`; error texts for bad `numfields` follow Redis 7.4's HEXPIRE, unverified against 8.0.",
    },
    // Sets
    Note {
        commands: &["sadd", "srem", "sismember", "smismember", "smembers", "scard"],
        options: "",
        status: Full,
        differences: "SMEMBERS is a RESP3 set. Events `sadd` / `srem` only when something changed; `del` when emptied.",
    },
    // Sets
    Note {
        commands: &["spop"],
        options: "[count]",
        status: Full,
        differences: "Uniform random picks; a count at least the size takes the whole set and deletes the key (`spop` then `del`). Written to the AOF as SREM of the popped members (1024 per command) or DEL for the whole set. Count errors as Redis (`must be positive`).",
    },
    // Sets
    Note {
        commands: &["srandmember"],
        options: "[count]",
        status: Partial,
        differences: "As HRANDFIELD, including the cap on negative counts.",
    },
    // Sets
    Note {
        commands: &["smove"],
        options: "",
        status: Full,
        differences: "Redis's order of checks: a missing source is 0 before the destination's type is checked; same source and destination answers membership. Events `srem` (+`del`) then `sadd`.",
    },
    // Sets
    Note {
        commands: &["sinter", "sunion", "sdiff", "sintercard"],
        options: "and their STORE forms [LIMIT]",
        status: Full,
        differences: "Every input is type-checked first; missing keys are empty sets. Results are built with the encoding rules above, so all-integer results answer in ascending order like Redis's intsets. A STORE replaces the destination (type and TTL); an empty result deletes it (`del`).",
    },
    // Sets
    Note {
        commands: &["sscan"],
        options: "[MATCH] [COUNT]",
        status: Full,
        differences: "As HSCAN (`intset` and `listpack` sets whole with cursor 0).",
    },
    // Lists
    Note {
        commands: &["lpush", "rpush", "lpushx", "rpushx"],
        options: "",
        status: Full,
        differences: "Events `lpush` / `rpush`; the X forms never create the key (0).",
    },
    // Lists
    Note {
        commands: &["lpop", "rpop"],
        options: "[count]",
        status: Full,
        differences: "Count errors as Redis (`must be positive`, for a non-integer too); count 0 is an empty array on a list and a null array on a missing key; a count larger than the list is bounded by the list before anything is allocated. Events `lpop`/`rpop`, `del` when emptied.",
    },
    // Lists
    Note {
        commands: &["llen", "lindex", "lrange"],
        options: "",
        status: Full,
        differences: "Redis's order of checks (LINDEX looks the key up before parsing the index, LRANGE after).",
    },
    // Lists
    Note {
        commands: &["lset", "linsert", "lrem", "ltrim"],
        options: "",
        status: Full,
        differences: "`ERR no such key`, `ERR index out of range`; LINSERT -1 for a missing pivot, 0 for a missing key. LTRIM raises `ltrim` whenever the key exists (as Redis), `del` when emptied.",
    },
    // Lists
    Note {
        commands: &["lpos"],
        options: "[RANK] [COUNT] [MAXLEN]",
        status: Full,
        differences: "RANK is bounded to ±LONG_MAX as Redis 7.2 (7.0.15 overflows on LONG_MIN: `@ours` case).",
    },
    // Lists
    Note {
        commands: &["lmove", "rpoplpush"],
        options: "",
        status: Full,
        differences: "A missing source answers nil before the destination's type is checked; same source and destination rotates. Events: the push on the destination, then the pop on the source (`del` if emptied), as Redis.",
    },
    // Lists
    Note {
        commands: &["lmpop"],
        options: "numkeys key ... LEFT|RIGHT [COUNT n]",
        status: Full,
        differences: "Redis's check order and texts (`numkeys should be greater than 0`, `count should be greater than 0`, syntax error when keys or direction are missing); logged in the AOF as LPOP/RPOP key count.",
    },
    // Lists
    Note {
        commands: &["blpop", "brpop", "blmove", "brpoplpush", "blmpop"],
        options: "",
        status: Partial,
        differences: "See *Blocking* below. Logged in the AOF as LPOP/RPOP, LMOVE, RPOPLPUSH. Difference: a blocked client is served just after the writer's locks are released, so a command from a third connection can run in between and take the element first (Redis serves within the same event-loop step); the writer's own next command always comes after.",
    },
    // Persistence (RDB)
    Note {
        commands: &["save"],
        options: "",
        status: Partial,
        differences: "Does not block other clients (Redis's SAVE does); the file is one instant.",
    },
    // Persistence (RDB)
    Note {
        commands: &["bgsave"],
        options: "[SCHEDULE]",
        status: Partial,
        differences: "A thread on the keyspace's copy-on-write snapshot instead of a fork (entries written ahead of the save are copied, one by one); replies once the instant is taken. Inside MULTI/EXEC or a script: scheduled. Runs alongside an AOF rewrite (each has its own snapshot). The copies are in-process memory, so used_memory (and maxmemory eviction) sees them while the save runs, unlike a fork's pages.",
    },
    // Persistence (RDB)
    Note {
        commands: &["dump", "restore"],
        options: "[REPLACE] [ABSTTL] [IDLETIME s] [FREQ n]",
        status: Full,
        differences: "Redis's payload (value, version 10, CRC-64), errors and check order; string payloads byte-identical to Redis 7.0's; aggregate payloads use plain encodings. Version 11 payloads (Redis 7.2's) are accepted.",
    },
    // ACL
    Note {
        commands: &["acl|setuser"],
        options: "user [rule ...]",
        status: Partial,
        differences: "Every rule of Redis 7.2 (`on off >pw <pw #hash !hash nopass resetpass ~pat %R~ %W~ %RW~ allkeys resetkeys &pat allchannels resetchannels +cmd -cmd +cmd|sub +cmd|firstarg +@cat -@cat allcommands nocommands reset sanitize-payload skip-sanitize-payload clearselectors`) and selectors `(...)` (given in one argument or several), with Redis's error texts; all rules or none apply.",
    },
    // ACL
    Note {
        commands: &["acl|getuser", "acl|list", "acl|users", "acl|whoami", "acl|deluser"],
        options: "",
        status: Full,
        differences: "Redis's layouts. Command rules are printed as Redis 7.2 keeps them (in the order given); 7.0.15 rebuilds them from categories, so mixed rules are only compared on our side. DELUSER closes the user's connections.",
    },
    // ACL
    Note {
        commands: &["acl|cat"],
        options: "[category]",
        status: Partial,
        differences: "Categories in Redis's order; a category's commands sorted by name (Redis: hash order), only commands we implement.",
    },
    // ACL
    Note {
        commands: &["acl|log"],
        options: "[count | RESET]",
        status: Full,
        differences: "Redis 7.2's ten fields (7.0 has the first seven); repeated refusals within 60 s counted on one entry; `acllog-max-len`.",
    },
    // ACL
    Note {
        commands: &["acl|dryrun"],
        options: "user command [arg ...]",
        status: Full,
        differences: "7.2's texts (`User app has no permissions to access the 'k' key`; 7.0: `This user has ...`).",
    },
    // ACL
    Note {
        commands: &["acl|genpass"],
        options: "[bits]",
        status: Full,
        differences: "From /dev/urandom.",
    },
    // ACL
    Note {
        commands: &["acl|load", "acl|save"],
        options: "",
        status: Full,
        differences: "`aclfile`; whole-file check before any change, Redis's error texts; SAVE writes a temp file, fsyncs and renames.",
    },
];
