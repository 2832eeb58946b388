//! Transports: the unix socket (unixsocket, unixsocketperm), TLS (tls-port and the tls-*
//! options, mutual TLS, certificate rotation by CONFIG SET) and listener rebinding by CONFIG SET
//! port / bind / tls-port with Redis's error texts and rollback. Certificates are made at test
//! time with the openssl command.

mod common;

use common::{free_port, temp_dir, RawClient, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A test PKI: two CAs, server certificates for 127.0.0.1 from each, a client certificate.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = temp_dir("pki");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for ca in ["ca", "ca2"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-days",
                "2",
                "-subj",
                &format!("/CN=ferrocache test {ca}"),
            ]);
        }
        for (name, ca, ext) in [
            ("server", "ca", "server.ext"),
            ("server2", "ca2", "server.ext"),
            ("client", "ca", "client.ext"),
        ] {
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.crt"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                ext,
            ]);
        }
        // The server key again, encrypted (PKCS#8, what OpenSSL 3 writes).
        run(&[
            "pkcs8",
            "-topk8",
            "-in",
            "server.key",
            "-out",
            "server-enc.key",
            "-passout",
            "pass:s3cret",
        ]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Server options for a TLS listener on `tls_port` with this PKI.
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            self.path("server.crt"),
            "--tls-key-file".into(),
            self.path("server.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
        ]
    }

    /// redis-cli over TLS with the client certificate (`with_cert`) or without.
    fn cli(&self, port: u16, with_cert: bool, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new("redis-cli");
        cmd.args([
            "-p",
            &port.to_string(),
            "--tls",
            "--cacert",
            &self.path("ca.crt"),
        ]);
        if with_cert {
            cmd.args([
                "--cert",
                &self.path("client.crt"),
                "--key",
                &self.path("client.key"),
            ]);
        }
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success() && !text.starts_with("Error"), text)
    }

    /// A rustls client trusting both CAs, with the client certificate.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for ca in ["ca.crt", "ca2.crt"] {
            roots
                .add(CertificateDer::from_pem_file(self.path(ca)).unwrap())
                .unwrap();
        }
        let certs = vec![CertificateDer::from_pem_file(self.path("client.crt")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(certs, key)
                .unwrap(),
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(config: &Arc<rustls::ClientConfig>, port: u16) -> TlsStream {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Sends one command, reads one line reply (enough for the simple replies used here).
fn tls_cmd(stream: &mut TlsStream, args: &[&str]) -> std::io::Result<String> {
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream.write_all(&common::encode_command(&parts))?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        reply.push(byte[0]);
    }
    if reply[0] == b'$' && reply != b"$-1\r\n" {
        let len: usize = std::str::from_utf8(&reply[1..reply.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0u8; len + 2];
        stream.read_exact(&mut body)?;
        return Ok(String::from_utf8_lossy(&body[..len]).into_owned());
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// Starts ferrocache expecting it to exit; returns its stdout and stderr.
fn start_fails(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ferrocache");
    assert!(!out.status.success(), "ferrocache started with {args:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ferrocache ping ARGS`: (exit status success, stdout + stderr).
fn health(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .arg("ping")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ferrocache ping");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The unix socket: redis-cli -s, the permissions of unixsocketperm, CLIENT LIST's view of a
/// unix client (`addr=/path:0`, `flags=U`, as redis-server shows it) and MONITOR's.
#[test]
fn unix_socket_serves_with_its_permissions_and_redis_fields() {
    let dir = temp_dir("unix");
    let path = dir.join("ferro.sock").display().to_string();
    let server = Server::start(&["--unixsocket", &path, "--unixsocketperm", "700"]);
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&path).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-s", &path])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "k", "over unix"]), "OK");
    assert_eq!(cli(&["GET", "k"]), "over unix");
    let line = cli(&["CLIENT", "INFO"]);
    assert!(
        line.contains(&format!(" addr={path}:0 laddr={path}:0 ")) && line.contains(" flags=U "),
        "{line}"
    );
    // redis-server's line for the same kind of client has the same shape.
    let redis_path = dir.join("redis.sock").display().to_string();
    if let Some(redis) = Server::start_redis(&["--unixsocket", &redis_path]) {
        let out = Command::new("redis-cli")
            .args(["-s", &redis_path, "CLIENT", "INFO"])
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&out.stdout);
        assert!(theirs.contains(&format!(" addr={redis_path}:0 laddr={redis_path}:0 ")));
        assert!(theirs.contains(" flags=U "));
        drop(redis);
    }
    assert_eq!(health(&["-s", &path]), (true, "PONG\n".into()));
    // MONITOR names a unix client `unix:<path>`, as Redis does.
    let mut monitor = std::os::unix::net::UnixStream::connect(&path).unwrap();
    monitor.write_all(b"MONITOR\r\n").unwrap();
    let mut reader = BufReader::new(monitor.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    cli(&["PING"]);
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!(" [0 unix:{path}] \"PING\"")),
        "{line}"
    );
    // TCP clients keep working beside it; the file is removed when the server exits.
    assert_eq!(server.raw().cmd_str(&["GET", "k"]), "$9\r\nover unix\r\n");
    let mut c = server.raw();
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = c.read_to_close();
    for _ in 0..200 {
        if !Path::new(&path).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!Path::new(&path).exists(), "socket file left behind");
    // A socket path that cannot be created stops start-up with Redis's text.
    let text = start_fails(&strings(&[
        "--port",
        "0",
        "--unixsocket",
        "/nonexistent-dir/x.sock",
    ]));
    assert!(
        text.contains("Failed opening Unix socket: bind: No such file or directory"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// TLS beside plaintext: redis-cli --tls with a client certificate works; without one the
/// handshake is refused (tls-auth-clients yes by default); plaintext bytes sent to the TLS
/// port get no reply and a closed connection; CLIENT LIST shows the TLS client as Redis does;
/// the metrics endpoint counts TLS connections and failed handshakes.
#[test]
fn tls_listener_with_mutual_tls() {
    let pki = Pki::new();
    let tls_port = free_port();
    let metrics_port = free_port();
    let mut args = pki.server_args(tls_port);
    args.extend(strings(&["--metrics-port", &metrics_port.to_string()]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    assert_eq!(
        pki.cli(tls_port, true, &["SET", "k", "v"]),
        (true, "OK\n".into())
    );
    assert_eq!(pki.cli(tls_port, true, &["GET", "k"]).1, "v\n");
    let (_, list) = pki.cli(tls_port, true, &["CLIENT", "LIST"]);
    assert!(
        list.contains(&format!(" laddr=127.0.0.1:{tls_port} ")) && list.contains(" flags=N "),
        "{list}"
    );
    let (ok, text) = pki.cli(tls_port, false, &["PING"]);
    assert!(
        !ok && !text.contains("PONG"),
        "no client certificate: {text}"
    );
    // Plaintext to the TLS port: closed without a RESP reply.
    let mut plain = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain.write_all(b"PING\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"+") && !got.starts_with(b"-"),
        "plaintext got {got:?}"
    );
    // The health check over TLS, with and without the client certificate.
    let port_text = tls_port.to_string();
    let (ca, crt, key) = (
        pki.path("ca.crt"),
        pki.path("client.crt"),
        pki.path("client.key"),
    );
    let tls_args = ["-p", &port_text, "--tls", "--cacert", &ca];
    let mut with_cert = tls_args.to_vec();
    with_cert.extend(["--cert", &crt, "--key", &key]);
    assert_eq!(health(&with_cert), (true, "PONG\n".into()));
    assert!(!health(&tls_args).0);
    // Still serving both.
    assert_eq!(server.raw().cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(pki.cli(tls_port, true, &["PING"]).1, "PONG\n");
    let mut http = TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    http.read_to_string(&mut body).unwrap();
    let metric = |name: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(metric("ferrocache_connections_received_total{transport=\"tls\"}") >= 5);
    assert!(metric("ferrocache_tls_handshake_failures_total") >= 3);
    // maxclients counts TLS clients (and handshakes in flight): past it, no handshake at all.
    let mut c = server.raw();
    for _ in 0..500 {
        // Earlier clients' connections are closed by now; wait until the server saw it.
        if c.cmd_str(&["INFO", "clients"])
            .contains("connected_clients:1\r\n")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "maxclients", "2"]), "+OK\r\n");
    let config = pki.client_config();
    let mut first = tls_connect(&config, tls_port);
    assert_eq!(tls_cmd(&mut first, &["PING"]).unwrap(), "+PONG\r\n");
    let mut second = tls_connect(&config, tls_port);
    assert!(tls_cmd(&mut second, &["PING"]).is_err());
    assert!(c
        .cmd_str(&["INFO", "stats"])
        .contains("rejected_connections:1\r\n"));
}

/// `port 0` with a tls-port: TLS only, no plaintext listener; an encrypted key with
/// tls-key-file-pass; tls-auth-clients optional lets a client without certificate in.
#[test]
fn tls_only_server_with_an_encrypted_key() {
    let pki = Pki::new();
    let tls_port = free_port();
    let mut args = pki.server_args(tls_port);
    args[5] = pki.path("server-enc.key");
    args.extend(strings(&[
        "--tls-key-file-pass",
        "s3cret",
        "--tls-auth-clients",
        "optional",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--memcached-port",
        &free_port().to_string(),
    ]));
    let dir = temp_dir("tlsonly");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(&args)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        lines.push_str(&line);
        if line.contains("Ready to accept connections tls") {
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    assert!(
        lines.contains(&format!(
            "Ready to accept connections tls (port {tls_port})"
        )),
        "{lines}"
    );
    assert!(!lines.contains("connections tcp"), "{lines}");
    // A plaintext memcached listener beside TLS-only RESP is allowed (nginx's memcached modules
    // have no TLS) but called out.
    assert!(
        lines.contains("RESP is served over TLS only (port 0, tls-port")
            && lines.contains("is plaintext"),
        "{lines}"
    );
    assert_eq!(pki.cli(tls_port, false, &["PING"]).1, "PONG\n");
    let (_, info) = pki.cli(tls_port, true, &["INFO", "server"]);
    assert!(info.contains("tcp_port:0"), "{info}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// A memcached request script over TLS: the reply bytes up to and including `END\r\n`, or the
/// error that ended the connection.
fn tls_memcached(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    script: &[u8],
) -> std::io::Result<String> {
    let mut stream = tls_connect(config, port);
    stream.write_all(script)?;
    stream.flush()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply.ends_with(b"END\r\n") {
        match stream.read(&mut buf)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => reply.extend_from_slice(&buf[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// `memcached-tls yes`: the memcached listener speaks TLS with the server's context (client
/// certificate required by default, as on tls-port), items shared with RESP; a client without
/// certificate or in plaintext gets no reply. Start-up refuses memcached-tls without a TLS
/// context or without memcached-port.
#[test]
fn memcached_over_tls() {
    let pki = Pki::new();
    let mc_port = free_port();
    let mut args = pki.server_args(0);
    args.extend(strings(&[
        "--memcached-port",
        &mc_port.to_string(),
        "--memcached-tls",
        "yes",
    ]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    let config = pki.client_config();
    assert_eq!(
        tls_memcached(&config, mc_port, b"set k 7 0 5\r\nhello\r\nget k\r\n").unwrap(),
        "STORED\r\nVALUE k 7 5\r\nhello\r\nEND\r\n"
    );
    assert_eq!(server.raw().cmd_str(&["GET", "k"]), "$5\r\nhello\r\n");
    // No client certificate: the server ends the handshake, nothing is answered.
    let no_cert = {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_file(pki.path("ca.crt")).unwrap())
            .unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    };
    let refused = tls_memcached(&no_cert, mc_port, b"get k\r\n");
    assert!(refused.is_err(), "{refused:?}");
    // Plaintext to the TLS memcached port: closed without a memcached reply.
    let mut plain = TcpStream::connect(("127.0.0.1", mc_port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain.write_all(b"version\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"VERSION"), "{got:?}");
    drop(server);

    let text = start_fails(&strings(&[
        "--port",
        "0",
        "--unixsocket",
        &pki.path("unused.sock"),
        "--memcached-port",
        &free_port().to_string(),
        "--memcached-tls",
        "yes",
    ]));
    assert!(
        text.contains(
            "No tls-cert-file configured!\nmemcached-tls yes needs the server's TLS context"
        ),
        "{text}"
    );
    let mut args = pki.server_args(0);
    args.extend(strings(&[
        "--port",
        "0",
        "--unixsocket",
        &pki.path("unused.sock"),
        "--memcached-tls",
        "yes",
    ]));
    let text = start_fails(&args);
    assert!(
        text.contains("memcached-tls yes needs memcached-port"),
        "{text}"
    );
}

/// Start-up refuses a TLS configuration that does not load, with Redis's lines.
#[test]
fn tls_start_up_refuses_bad_configuration() {
    let pki = Pki::new();
    let base = |extra: &[(&str, String)]| {
        let mut args = pki.server_args(free_port());
        args.extend(strings(&["--port", "0"]));
        for (name, value) in extra {
            let i = args.iter().position(|a| a == name);
            match i {
                Some(i) => args[i + 1] = value.clone(),
                None => args.extend([name.to_string(), value.clone()]),
            }
        }
        start_fails(&args)
    };
    let text = base(&[("--tls-cert-file", "/nonexistent.crt".into())]);
    assert!(
        text.contains(
            "Failed to load certificate: /nonexistent.crt: No such file or directory\nFailed to configure TLS. Check logs for more info."
        ),
        "{text}"
    );
    let text = base(&[("--tls-ca-cert-file", "".into())]);
    assert!(text.contains("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!"), "{text}");
    let text = base(&[("--tls-key-file", pki.path("client.key"))]);
    assert!(text.contains("Failed to load private key:"), "{text}");
    let text = base(&[("--tls-key-file", pki.path("server-enc.key"))]);
    assert!(text.contains("tls-key-file-pass is not set"), "{text}");
    let text = base(&[("--tls-protocols", "TLSv1 TLSv1.1".into())]);
    assert!(
        text.contains("tls-protocols: TLSv1 TLSv1.1 not supported"),
        "{text}"
    );
    let text = base(&[("--tls-ciphers", "DES-CBC3-SHA".into())]);
    assert!(
        text.contains("Failed to configure ciphers: DES-CBC3-SHA"),
        "{text}"
    );
    let text = base(&[("--tls-client-cert-file", pki.path("ca.crt"))]);
    assert!(text.contains("Failed to load private key"), "{text}");
}

/// Certificate rotation by CONFIG SET while a client loops over requests on new and old
/// connections: every request succeeds, connections made after the change see the new
/// certificate, a bad file is refused and the current context keeps serving.
#[test]
fn certificate_rotation_by_config_set_under_load() {
    let pki = Pki::new();
    let tls_port = free_port();
    let args = pki.server_args(tls_port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    let config = pki.client_config();
    let second = rustls::pki_types::CertificateDer::from(
        std::fs::read(pki.path("server2.crt"))
            .map(|pem| {
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::CertificateDer::from_pem_slice(&pem)
                    .unwrap()
                    .to_vec()
            })
            .unwrap(),
    );
    let mut long_lived = tls_connect(&config, tls_port);
    assert_eq!(
        tls_cmd(&mut long_lived, &["SET", "n", "0"]).unwrap(),
        "+OK\r\n"
    );
    let rotated = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loop_config = config.clone();
    let loop_rotated = rotated.clone();
    let looper = std::thread::spawn(move || {
        // 60 connections of 5 requests each; returns how many saw the second certificate
        // after the rotation was confirmed.
        let mut new_cert_after = 0;
        let mut after = 0;
        for i in 0..60 {
            let was_rotated = loop_rotated.load(std::sync::atomic::Ordering::SeqCst);
            let mut s = tls_connect(&loop_config, tls_port);
            for _ in 0..5 {
                assert_eq!(tls_cmd(&mut s, &["INCR", "n"]).unwrap().as_bytes()[0], b':');
            }
            let peer = s.conn.peer_certificates().unwrap()[0].clone();
            if was_rotated {
                after += 1;
                new_cert_after += usize::from(peer == second);
            }
            if i == 40 {
                // The last 20 connections come after the rotation (waited for, bounded).
                for _ in 0..1000 {
                    if loop_rotated.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        (after, new_cert_after)
    });
    std::thread::sleep(Duration::from_millis(100));
    let mut c = server.raw();
    // A file that does not load is refused; the current certificate keeps serving.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "tls-cert-file", "/nonexistent.crt"]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert!(c
        .cmd_str(&["CONFIG", "GET", "tls-cert-file"])
        .contains("server.crt"));
    // A key that does not match the certificate is refused as a whole.
    assert!(c
        .cmd_str(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &pki.path("server2.crt"),
            "tls-key-file",
            &pki.path("server.key"),
        ])
        .starts_with("-ERR CONFIG SET failed"));
    assert_eq!(
        c.cmd_str(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &pki.path("server2.crt"),
            "tls-key-file",
            &pki.path("server2.key"),
        ]),
        "+OK\r\n"
    );
    rotated.store(true, std::sync::atomic::Ordering::SeqCst);
    let (after, new_cert_after) = looper.join().expect("request loop");
    assert!(after >= 19, "{after} connections after the rotation");
    assert_eq!(
        after, new_cert_after,
        "connections after rotation saw the old cert"
    );
    // The connection opened before the rotation still works.
    assert_eq!(tls_cmd(&mut long_lived, &["GET", "n"]).unwrap(), "300");
}

/// CONFIG SET port / bind / tls-port rebind the listeners at runtime; a port that cannot be
/// bound fails with Redis's text, rolls back every option of the call and leaves the old
/// listener serving. The error replies are compared with redis-server's.
#[test]
fn config_set_port_rebinds_or_rolls_back() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let mut servers = vec![Server::start(&[])];
    servers.extend(Server::start_redis(&[]));
    let mut replies = Vec::new();
    for server in &servers {
        let mut c = server.raw();
        replies.push((
            c.cmd_str(&["CONFIG", "SET", "maxmemory", "12345", "port", &taken_port]),
            c.cmd_str(&["CONFIG", "GET", "maxmemory"]),
            c.cmd_str(&["CONFIG", "SET", "bind", "127.0.0.1 192.0.2.1"]),
            c.cmd_str(&["CONFIG", "GET", "bind"]),
        ));
        assert_eq!(
            RawClient::connect(server.port).cmd_str(&["PING"]),
            "+PONG\r\n"
        );
    }
    assert_eq!(
        replies[0].0,
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(replies[0].1, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    assert_eq!(
        replies[0].2,
        "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"
    );
    assert_eq!(replies[0].3, "*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n");
    if replies.len() == 2 {
        assert_eq!(replies[0], replies[1], "ferrocache vs redis-server");
    }
    // A free port: the old one closes, the new one serves, this connection stays.
    let server = &servers[0];
    let mut c = server.raw();
    let new_port = free_port();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "port", &new_port.to_string()]),
        "+OK\r\n"
    );
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err());
    assert_eq!(RawClient::connect(new_port).cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(c
        .cmd_str(&["INFO", "server"])
        .contains(&format!("tcp_port:{new_port}\r\n")));
    // tls-port at runtime: off -> on (the context loads then) and back.
    let pki = Pki::new();
    let tls_port = free_port();
    assert_eq!(
        c.cmd_str(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &pki.path("server.crt"),
            "tls-key-file",
            &pki.path("server.key"),
            "tls-ca-cert-file",
            &pki.path("ca.crt"),
            "tls-port",
            &tls_port.to_string(),
        ]),
        "+OK\r\n"
    );
    assert_eq!(pki.cli(tls_port, true, &["PING"]).1, "PONG\n");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "tls-port", &new_port.to_string()]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(pki.cli(tls_port, true, &["PING"]).1, "PONG\n");
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "tls-port", "0"]), "+OK\r\n");
    assert!(TcpStream::connect(("127.0.0.1", tls_port)).is_err());
    drop(taken);
}
