//! In-process command tests: a `ServerState` on a manual clock and one client, so a family's
//! tests can run `["SET", "k", "v", "PX", "100"]`, move time, and check the reply — no socket.

use crate::clock::Clock;
use crate::config::Config;
use crate::protocol::{Protocol, Reply};
use crate::state::ServerState;
use crate::{engine::dispatch, engine::ClientState};
use bytes::{Bytes, BytesMut};

/// Start of the manual clock: a fixed, realistic unix time in milliseconds.
pub const START_MS: u64 = 1_790_000_000_000;

pub struct TestServer {
    pub state: ServerState,
    pub client: ClientState,
}

impl TestServer {
    pub fn new() -> TestServer {
        let state = ServerState::new(
            Config::default(),
            Clock::manual(START_MS),
            crate::commands::TABLES,
        );
        let addr = "127.0.0.1:1".parse().expect("literal address");
        let info = state.clients.register(addr, addr, -1, START_MS);
        TestServer {
            client: ClientState::new(info),
            state,
        }
    }

    /// Runs one command and returns its reply.
    pub fn run(&mut self, args: &[&str]) -> Reply {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        dispatch::execute(&self.state, &mut self.client, &argv)
    }

    /// Runs one command and returns its RESP2 encoding as text, for compact assertions.
    pub fn resp(&mut self, args: &[&str]) -> String {
        let mut out = BytesMut::new();
        self.run(args).encode(Protocol::Resp2, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn advance_ms(&self, ms: u64) {
        self.state.clock.advance_ms(ms);
    }
}

impl Default for TestServer {
    fn default() -> Self {
        TestServer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::TestServer;

    #[test]
    fn expiry_follows_the_manual_clock() {
        let mut t = TestServer::new();
        assert_eq!(t.resp(&["SET", "k", "v", "PX", "100"]), "+OK\r\n");
        assert_eq!(t.resp(&["PTTL", "k"]), ":100\r\n");
        t.advance_ms(100);
        assert_eq!(t.resp(&["GET", "k"]), "$1\r\nv\r\n");
        t.advance_ms(1);
        assert_eq!(t.resp(&["GET", "k"]), "$-1\r\n");
        assert_eq!(t.resp(&["EXISTS", "k"]), ":0\r\n");
    }

    #[test]
    fn expire_then_persist_then_set_clears_ttl() {
        let mut t = TestServer::new();
        t.run(&["SET", "session:1", "{}"]);
        assert_eq!(t.resp(&["EXPIRE", "session:1", "604800"]), ":1\r\n");
        assert_eq!(t.resp(&["TTL", "session:1"]), ":604800\r\n");
        t.advance_ms(4_000);
        assert_eq!(t.resp(&["TTL", "session:1"]), ":604796\r\n");
        t.run(&["SET", "session:1", "{\"uid\":2}"]);
        assert_eq!(t.resp(&["TTL", "session:1"]), ":-1\r\n");
        assert_eq!(t.resp(&["TTL", "missing"]), ":-2\r\n");
    }

    #[test]
    fn getex_and_exat_use_absolute_time() {
        let mut t = TestServer::new();
        let at = (super::START_MS / 1000 + 10).to_string();
        t.run(&["SET", "k", "v", "EXAT", &at]);
        assert_eq!(t.resp(&["TTL", "k"]), ":10\r\n");
        assert_eq!(t.resp(&["GETEX", "k", "PERSIST"]), "$1\r\nv\r\n");
        assert_eq!(t.resp(&["TTL", "k"]), ":-1\r\n");
        t.advance_ms(20_000);
        assert_eq!(t.resp(&["GET", "k"]), "$1\r\nv\r\n");
    }

    #[test]
    fn watch_sees_expiry_at_exec() {
        let mut t = TestServer::new();
        t.run(&["SET", "k", "v", "PX", "50"]);
        t.run(&["WATCH", "k"]);
        t.advance_ms(60);
        t.run(&["MULTI"]);
        t.run(&["PING"]);
        assert_eq!(t.resp(&["EXEC"]), "*-1\r\n");
    }
}
