//! Test support: start the real `ferrocache` binary (and, for differential tests, Debian's
//! `redis-server`) on ephemeral loopback ports, and talk raw RESP to them.
#![allow(dead_code)]

pub mod repl;
pub mod resp_tree;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("ferrocache-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port that was free a moment ago (for redis-server, which cannot report an ephemeral port).
/// Never the same port twice in one test process: the kernel may hand a port it just released
/// to the next bind, and two tests starting servers at once would then race for it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Server {
    /// Starts ferrocache on an ephemeral 127.0.0.1 port with extra `--name value` arguments.
    pub fn start(args: &[&str]) -> Server {
        let dir = temp_dir("fc");
        Server::start_in(dir, args)
    }

    /// Starts ferrocache with `dir` as its working directory (keeps files across restarts).
    pub fn start_in(dir: PathBuf, args: &[&str]) -> Server {
        Server::start_with_env(dir, args, &[])
    }

    /// Starts ferrocache in `dir` with extra environment variables (e.g. TOKIO_WORKER_THREADS).
    pub fn start_with_env(dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Server {
        // `port 0` means no TCP listener (as in Redis): take a port that was free a moment
        // ago, and another one if something took it meanwhile.
        for _ in 0..5 {
            if let Some(server) = Server::try_start(&dir, args, env, free_port()) {
                return server;
            }
        }
        panic!("ferrocache did not start on a free port");
    }

    /// Starts ferrocache on a given port in `dir` (a node restarted where it was); None if
    /// the port is taken.
    pub fn start_at(dir: PathBuf, port: u16, args: &[&str]) -> Option<Server> {
        Server::try_start(&dir, args, &[], port)
    }

    fn try_start(dir: &Path, args: &[&str], env: &[(&str, &str)], port: u16) -> Option<Server> {
        let dir = dir.to_path_buf();
        let log = dir.join("ferrocache.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrocache"));
        cmd.envs(env.iter().copied());
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(&dir)
            .args(args);
        // The whole suite can run with plain TCP connections on the epoll loop
        // (FERROCACHE_TEST_EVENT_LOOP=epoll; tests/run.sh runs the TCP tests that way once).
        if let Ok(event_loop) = std::env::var("FERROCACHE_TEST_EVENT_LOOP") {
            cmd.args(["--event-loop", &event_loop]);
        }
        cmd.current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start ferrocache");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut ready = false;
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.contains("Could not create server TCP listening socket")
                && line.contains("in use")
            {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            if line.contains(&format!("Ready to accept connections tcp (port {port})")) {
                ready = true;
                break;
            }
        }
        if !ready {
            let _ = child.kill();
            panic!("ferrocache did not report its port; last line: {line}")
        }
        // Keep draining stdout into a log file so the child never blocks on a full pipe.
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log_path).unwrap();
            let mut buf = [0u8; 8192];
            let mut inner = reader;
            loop {
                match inner.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = file.write_all(&buf[..n]);
                    }
                }
            }
        });
        Some(Server {
            child,
            port,
            dir,
            log,
        })
    }

    /// Starts Debian's redis-server on a free port, or returns None when it is not installed.
    pub fn start_redis(args: &[&str]) -> Option<Server> {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let dir = temp_dir("redis");
        let log = dir.join("redis.log");
        for _attempt in 0..5 {
            let port = free_port();
            // A fresh log per attempt: readiness is read from it, not from a connection, which
            // could reach another test's server if the port was taken meanwhile.
            let _ = std::fs::remove_file(&log);
            let mut child = Command::new(binary)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--logfile",
                ])
                .arg(&log)
                .arg("--dir")
                .arg(&dir)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("Ready to accept connections")
                    && TcpStream::connect(("127.0.0.1", port)).is_ok()
                {
                    return Some(Server {
                        child,
                        port,
                        dir,
                        log,
                    });
                }
                if text.contains("Could not create server TCP listening socket") {
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and wait.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A RESP client that returns raw reply bytes, one complete frame at a time.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pub resp3: bool,
}

/// Encodes argv as a RESP multibulk request.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            buf: Vec::new(),
            resp3: false,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode_command(args));
    }

    /// Sends a command given as words and returns its raw reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&args);
        self.read_reply().expect("reply")
    }

    /// Like `cmd`, as a lossy string (for readable assertions).
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Reads one complete reply frame; None if the connection closed first.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(len) = self.frame_len() {
                let frame: Vec<u8> = self.buf.drain(..len).collect();
                return Some(frame);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn frame_len(&self) -> Option<usize> {
        if self.buf.is_empty() {
            return None;
        }
        if self.resp3 {
            match redis_protocol::resp3::decode::complete::decode_range(&self.buf) {
                Ok(Some((_, len))) => Some(len),
                Ok(None) => None,
                Err(e) => panic!(
                    "undecodable RESP3 reply {:?}: {e:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        } else {
            match redis_protocol::resp2::decode::decode_range(&self.buf) {
                Ok(Some((_, len))) => Some(len),
                Ok(None) => None,
                Err(e) => panic!(
                    "undecodable RESP2 reply {:?}: {e:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads until the server closes the connection; returns what arrived.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut out);
        out
    }
}

/// A small tmpfs mounted at `<home>/data` for disk-full tests (needs root: `mount` returns
/// None otherwise, and the test skips). Unmounted and `home` removed on drop.
pub struct Tmpfs {
    pub home: PathBuf,
    pub data: PathBuf,
}

impl Tmpfs {
    pub fn mount(home: PathBuf, size: &str) -> Option<Tmpfs> {
        let data = home.join("data");
        std::fs::create_dir_all(&data).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&data)
            .status();
        if !mounted.is_ok_and(|s| s.success()) {
            eprintln!("cannot mount a tmpfs (not root?): disk-full behaviour not checked");
            let _ = std::fs::remove_dir_all(&home);
            return None;
        }
        Some(Tmpfs { home, data })
    }

    /// Gives the file system room again.
    pub fn grow(&self, size: &str) {
        let grown = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.data)
            .status()
            .expect("mount runs");
        assert!(grown.success(), "remount failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.data).status();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
