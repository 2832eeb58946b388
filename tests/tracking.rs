//! CLIENT TRACKING over real connections, on ferrocache and redis-server alike: invalidations
//! after another client's write, RESP2 redirection through `__redis__:invalidate`, BCAST
//! prefixes, OPTIN, NOLOOP, FLUSHALL's null invalidation, expiry, broken redirects. Option
//! rules and error texts are in tests/differential/73_pubsub_tracking.redis.

mod common;
use common::{RawClient, Server};

/// ferrocache and, when installed, redis-server, with their names for failure messages.
fn servers() -> Vec<(&'static str, Server)> {
    let mut all = vec![("ferrocache", Server::start(&[]))];
    all.extend(Server::start_redis(&[]).map(|s| ("redis-server", s)));
    all
}

fn resp3(server: &Server) -> RawClient {
    let mut c = server.raw();
    c.resp3 = true;
    c.cmd(&["HELLO", "3"]);
    c
}

fn client_id(c: &mut RawClient) -> String {
    let reply = c.cmd_str(&["CLIENT", "ID"]);
    reply.trim_start_matches(':').trim_end().to_string()
}

const INVALIDATE_K: &str = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

/// The next frame on `c` after everything sent so far: a PING's reply, unless a push came first.
fn next_frame(c: &mut RawClient) -> String {
    c.send(&[b"PING"]);
    let first = String::from_utf8(c.read_reply().unwrap()).unwrap();
    if first != "+PONG\r\n" {
        assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
    }
    first
}

#[test]
fn another_clients_write_invalidates_a_read_key_once() {
    for (name, server) in servers() {
        let mut a = resp3(&server);
        let mut b = server.raw();
        assert_eq!(a.cmd_str(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
        a.cmd(&["GET", "k"]);
        let info = b.cmd_str(&["INFO", "everything"]);
        assert!(info.contains("tracking_clients:1\r\n"), "{name}: {info}");
        assert!(info.contains("tracking_total_keys:1\r\n"), "{name}");
        b.cmd(&["SET", "k", "1"]);
        assert_eq!(next_frame(&mut a), INVALIDATE_K, "{name}");
        let info = b.cmd_str(&["INFO", "stats"]);
        assert!(info.contains("tracking_total_keys:0\r\n"), "{name}");
        // Forgotten once invalidated: a second write says nothing until A reads again.
        b.cmd(&["SET", "k", "2"]);
        assert_eq!(next_frame(&mut a), "+PONG\r\n");
        a.cmd(&["MGET", "k", "other"]);
        b.cmd(&["DEL", "k"]);
        assert_eq!(next_frame(&mut a), INVALIDATE_K);
        // Writes to keys A never read are not sent.
        b.cmd(&["SET", "unread", "1"]);
        assert_eq!(next_frame(&mut a), "+PONG\r\n");
    }
}

#[test]
fn resp2_redirect_goes_through_the_invalidate_channel() {
    for (name, server) in servers() {
        let mut sink = server.raw();
        let sink_id = client_id(&mut sink);
        sink.send(&[b"SUBSCRIBE", b"__redis__:invalidate"]);
        sink.read_reply().unwrap();
        let mut a = server.raw();
        assert_eq!(
            a.cmd_str(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]),
            "+OK\r\n"
        );
        assert_eq!(
            a.cmd_str(&["CLIENT", "GETREDIR"]),
            format!(":{sink_id}\r\n")
        );
        a.cmd(&["GET", "k"]);
        let mut b = server.raw();
        b.cmd(&["SET", "k", "v"]);
        assert_eq!(
            String::from_utf8(sink.read_reply().unwrap()).unwrap(),
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n",
            "{name}"
        );
        b.cmd(&["FLUSHALL"]);
        assert_eq!(
            String::from_utf8(sink.read_reply().unwrap()).unwrap(),
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
        );
    }
}

#[test]
fn bcast_sends_every_change_under_a_prefix() {
    for (name, server) in servers() {
        let mut a = resp3(&server);
        a.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:"]);
        let mut b = server.raw();
        b.cmd(&["SET", "other", "1"]);
        b.cmd(&["SET", "user:1", "1"]);
        assert_eq!(
            next_frame(&mut a),
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:1\r\n",
            "{name}"
        );
        // No read needed, and no forgetting: every change is sent.
        b.cmd(&["INCR", "user:1"]);
        assert!(next_frame(&mut a).contains("user:1"));
    }
}

#[test]
fn optin_tracks_only_after_client_caching_yes() {
    for (name, server) in servers() {
        let mut a = resp3(&server);
        a.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]);
        let mut b = server.raw();
        a.cmd(&["GET", "k"]);
        b.cmd(&["SET", "k", "1"]);
        assert_eq!(next_frame(&mut a), "+PONG\r\n", "{name}");
        assert_eq!(a.cmd_str(&["CLIENT", "CACHING", "yes"]), "+OK\r\n");
        a.cmd(&["GET", "k"]);
        b.cmd(&["SET", "k", "2"]);
        assert_eq!(next_frame(&mut a), INVALIDATE_K);
    }
}

#[test]
fn noloop_skips_the_clients_own_writes() {
    for (name, server) in servers() {
        let mut a = resp3(&server);
        a.cmd(&["CLIENT", "TRACKING", "on", "NOLOOP"]);
        a.cmd(&["GET", "k"]);
        assert_eq!(a.cmd_str(&["SET", "k", "mine"]), "+OK\r\n");
        assert_eq!(next_frame(&mut a), "+PONG\r\n", "{name}");
        let mut plain = resp3(&server);
        plain.cmd(&["CLIENT", "TRACKING", "on"]);
        plain.cmd(&["GET", "k"]);
        // Without NOLOOP, its own write is invalidated, after the write's reply.
        assert_eq!(plain.cmd_str(&["SET", "k", "x"]), "+OK\r\n");
        assert_eq!(next_frame(&mut plain), INVALIDATE_K);
    }
}

#[test]
fn expiry_invalidates_and_flushall_sends_null() {
    for (name, server) in servers() {
        let mut a = resp3(&server);
        a.cmd(&["CLIENT", "TRACKING", "on"]);
        let mut b = server.raw();
        b.cmd(&["SET", "k", "v", "PX", "30"]);
        a.cmd(&["GET", "k"]);
        std::thread::sleep(std::time::Duration::from_millis(60));
        // The lookup that finds it expired removes it, and that is a change.
        assert_eq!(b.cmd_str(&["GET", "k"]), "$-1\r\n");
        assert_eq!(next_frame(&mut a), INVALIDATE_K, "{name}");
        b.cmd(&["FLUSHALL"]);
        assert_eq!(next_frame(&mut a), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    }
}

#[test]
fn broken_redirect_is_reported() {
    for (name, server) in servers() {
        let mut sink = server.raw();
        let sink_id = client_id(&mut sink);
        let mut a = resp3(&server);
        a.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sink_id]);
        a.cmd(&["GET", "k"]);
        drop(sink);
        let mut b = server.raw();
        // The sink's disconnect is asynchronous: wait until the server has seen it.
        for _ in 0..100 {
            let list = b.cmd_str(&["CLIENT", "LIST", "ID", &sink_id]);
            if !list.contains(&format!("id={sink_id} ")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        b.cmd(&["SET", "k", "v"]);
        let frame = next_frame(&mut a);
        assert_eq!(
            frame,
            format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{sink_id}\r\n"),
            "{name}"
        );
        let info = a.cmd_str(&["CLIENT", "TRACKINGINFO"]);
        assert!(info.contains("broken_redirect"), "{info}");
    }
}
