//! Helpers of the replication tests (redis crate connections): bounded waits, INFO fields,
//! and "this node has applied its primary's whole stream".

use redis::Value;
use std::time::{Duration, Instant};

/// Waits (bounded) until `cond` holds; panics with `what` otherwise.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

pub fn conn(port: u16) -> redis::Connection {
    conn_db(port, 0)
}

pub fn conn_db(port: u16, db: i64) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))
        .unwrap()
        .get_connection()
        .unwrap()
}

pub fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing from INFO {section}: {text}"))
        .to_string()
}

pub fn link_up(c: &mut redis::Connection) -> bool {
    info_field(c, "replication", "master_link_status") == "up"
}

/// Runs one command, panicking with the command on an error reply.
pub fn query(c: &mut redis::Connection, argv: &[&str]) -> Value {
    let mut cmd = redis::cmd(argv[0]);
    for a in &argv[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

/// Waits until `node` (a replica anywhere down a chain) has applied the whole stream of `top`
/// (the primary at its head): link up, same offset.
pub fn wait_caught_up(top: &mut redis::Connection, node: &mut redis::Connection) {
    wait_for("the node's offset to reach the primary's", || {
        let want = info_field(top, "replication", "master_repl_offset");
        link_up(node) && info_field(node, "replication", "slave_repl_offset") == want
    });
}
