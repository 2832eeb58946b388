//! Expiry over TCP against the real binary: lazy expiry on access and active expiry reclaiming
//! keys nobody reads. Waits are bounded polls, never timing assertions.

mod common;
use common::Server;
use std::time::{Duration, Instant};

fn connect(server: &Server) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn dbsize(con: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

#[test]
fn lazy_expiry_hides_and_deletes_keys_on_access() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("keep")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("k").query(&mut con).unwrap();
    assert!(0 < pttl && pttl <= 30, "pttl {pttl}");
    std::thread::sleep(Duration::from_millis(60));
    let value: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value, None);
    let ttl: i64 = redis::cmd("TTL").arg("k").query(&mut con).unwrap();
    assert_eq!(ttl, -2);
    // The lookup deleted it (or the active cycle did first): either way it is gone for good.
    assert_eq!(dbsize(&mut con), 1);
    let value: Option<String> = redis::cmd("GET").arg("keep").query(&mut con).unwrap();
    assert_eq!(value.as_deref(), Some("v"));
}

#[test]
fn expire_in_the_past_deletes_at_once() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    for (cmd, arg) in [
        ("EXPIRE", "-1"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "1000"),
    ] {
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
        let changed: i64 = redis::cmd(cmd).arg("k").arg(arg).query(&mut con).unwrap();
        assert_eq!(changed, 1, "{cmd}");
        assert_eq!(
            dbsize(&mut con),
            0,
            "{cmd} must delete the key, not leave it to expiry"
        );
    }
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let server = Server::start(&[]);
    let mut con = connect(&server);
    for chunk in 0..10 {
        let mut pipe = redis::pipe();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            pipe.cmd("SET")
                .arg(format!("short:{i}"))
                .arg("v")
                .arg("PX")
                .arg(100)
                .ignore();
        }
        pipe.query::<()>(&mut con).unwrap();
    }
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("live:{i}"))
            .arg("v")
            .query(&mut con)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut size = dbsize(&mut con);
    while size != 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        size = dbsize(&mut con);
    }
    assert_eq!(
        size,
        10,
        "active expiry left {} expired keys after 10 s",
        size - 10
    );
}
