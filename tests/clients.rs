//! The Rust `redis` crate (sync API) against ferrocache: what a Rust application would do.
//!
//! Every test body runs first against Debian's redis-server, which proves the test itself is
//! right, then against ferrocache. A body receives the server's base URL without a database
//! (`redis://127.0.0.1:<port>/`).

mod common;
use common::Server;
use redis::{Commands, RedisResult};

const DAY_S: i64 = 86_400;

/// Runs `body` against redis-server, then ferrocache, naming the server in any failure.
fn on_both(body: impl Fn(&str) -> RedisResult<()>) {
    let redis_server =
        Server::start_redis(&[]).expect("redis-server is not installed: tests/run.sh installs it");
    if let Err(e) = body(&redis_server.url()) {
        panic!("the test fails against redis-server, so the test is wrong: {e}");
    }
    let ours = Server::start(&[]);
    if let Err(e) = body(&ours.url()) {
        panic!("ferrocache: {e}");
    }
}

fn connect(url: &str) -> RedisResult<redis::Connection> {
    redis::Client::open(url)?.get_connection()
}

/// `check!(cond)`: an assertion that reports through RedisResult, so `on_both` names the server.
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err(redis::RedisError::from((
                redis::ErrorKind::ClientError,
                "check failed",
                format!("{} (line {})", stringify!($cond), line!()),
            )));
        }
    };
}

#[test]
fn get_set_expire_ttl() {
    on_both(|url| {
        let mut con = connect(url)?;
        redis::cmd("FLUSHALL").exec(&mut con)?;
        let () = con.set("session:a", "{\"uid\": 2}")?;
        check!(con.get::<_, Option<String>>("session:a")? == Some("{\"uid\": 2}".into()));
        check!(con.ttl::<_, i64>("session:a")? == -1);
        check!(con.expire::<_, bool>("session:a", 7 * DAY_S)?);
        let ttl: i64 = con.ttl("session:a")?;
        check!(ttl > 0 && ttl <= 7 * DAY_S);
        let pttl: i64 = con.pttl("session:a")?;
        check!(pttl > 0 && pttl <= 7 * DAY_S * 1000);
        check!(!con.expire::<_, bool>("session:missing", 10)?);
        check!(con.get::<_, Option<String>>("session:missing")?.is_none());
        check!(con.del::<_, i64>("session:a")? == 1);
        check!(con.ttl::<_, i64>("session:a")? == -2);
        let err = redis::cmd("EXPIRE")
            .arg("session:a")
            .arg("soon")
            .query::<i64>(&mut con)
            .unwrap_err();
        check!(err
            .to_string()
            .contains("value is not an integer or out of range"));
        Ok(())
    });
}

#[test]
fn pipelines_return_replies_in_order() {
    on_both(|url| {
        let mut con = connect(url)?;
        redis::cmd("FLUSHALL").exec(&mut con)?;
        let (expired, value, ttl, deleted, gone): (bool, String, i64, i64, Option<String>) =
            redis::pipe()
                .set("k", "v")
                .ignore()
                .expire("k", 60)
                .get("k")
                .ttl("k")
                .del("k")
                .get("k")
                .query(&mut con)?;
        check!(expired && value == "v" && ttl > 0 && ttl <= 60 && deleted == 1 && gone.is_none());
        // A pipeline of 1,000 writes then 1,000 reads in one round trip.
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.set(format!("key:{i}"), i).ignore();
        }
        for i in 0..1000 {
            pipe.get(format!("key:{i}"));
        }
        let values: Vec<i64> = pipe.query(&mut con)?;
        check!(values == (0..1000).collect::<Vec<i64>>());
        Ok(())
    });
}

#[test]
fn binary_keys_and_values_round_trip() {
    on_both(|url| {
        let mut con = connect(url)?;
        redis::cmd("FLUSHALL").exec(&mut con)?;
        let key: &[u8] = b"bin:\x00\r\n\xff";
        let value: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let () = con.set(key, &value)?;
        check!(con.get::<_, Vec<u8>>(key)? == value);
        let () = con.set(b"empty".as_slice(), b"".as_slice())?;
        check!(con.get::<_, Option<Vec<u8>>>(b"empty".as_slice())? == Some(Vec::new()));
        check!(con.exists::<_, i64>(&[key, b"empty".as_slice(), b"bin:".as_slice()])? == 2);
        Ok(())
    });
}

#[test]
fn database_from_url_is_selected_and_isolated() {
    on_both(|base| {
        let mut db0 = connect(&format!("{base}0"))?;
        let mut db1 = connect(&format!("{base}1"))?;
        redis::cmd("FLUSHALL").exec(&mut db0)?;
        let () = db1.set("only:in:1", "one")?;
        check!(db0.get::<_, Option<String>>("only:in:1")?.is_none());
        check!(db1.get::<_, Option<String>>("only:in:1")? == Some("one".into()));
        check!(redis::cmd("DBSIZE").query::<i64>(&mut db0)? == 0);
        check!(redis::cmd("DBSIZE").query::<i64>(&mut db1)? == 1);
        Ok(())
    });
}

#[test]
fn resp3_connection_works() {
    on_both(|base| {
        let mut con = connect(&format!("{base}0?protocol=resp3"))?;
        redis::cmd("FLUSHALL").exec(&mut con)?;
        let () = con.set("k", "v")?;
        check!(con.get::<_, Option<String>>("k")? == Some("v".into()));
        check!(con.get::<_, Option<String>>("missing")?.is_none());
        check!(con.expire::<_, bool>("k", 100)?);
        let ttl: i64 = con.ttl("k")?;
        check!(ttl > 0 && ttl <= 100);
        Ok(())
    });
}
