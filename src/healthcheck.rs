//! `ferrocache ping`: a health check that needs no shell and no redis-cli, for container
//! images built `FROM scratch` (`healthcheck: test: ["CMD", "/ferrocache", "ping"]`).
//!
//! Connects like `redis-cli ping` (127.0.0.1:6379 unless told otherwise; `-s PATH` for the unix
//! socket; `--tls --cacert CA [--cert CRT --key KEY]` for the TLS port), authenticates when a
//! password is given (`-a`, or `REDISCLI_AUTH` as redis-cli reads it), sends PING and exits 0
//! only on PONG. Every wait is bounded, so a wedged server fails the check instead of hanging it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Tls {
    enabled: bool,
    cacert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

struct Target {
    host: String,
    port: u16,
    socket: Option<String>,
    tls: Tls,
    user: Option<String>,
    password: Option<String>,
}

fn parse(args: &[String]) -> Result<Target, String> {
    let mut target = Target {
        host: "127.0.0.1".into(),
        port: 6379,
        socket: None,
        tls: Tls::default(),
        user: None,
        password: std::env::var("REDISCLI_AUTH")
            .ok()
            .filter(|p| !p.is_empty()),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" => target.host = value()?.clone(),
            "-p" => target.port = value()?.parse().map_err(|_| "-p needs a port number")?,
            "-a" => target.password = Some(value()?.clone()),
            "--user" => target.user = Some(value()?.clone()),
            "-s" => target.socket = Some(value()?.clone()),
            "--tls" => target.tls.enabled = true,
            "--cacert" => target.tls.cacert = Some(value()?.clone()),
            "--cert" => target.tls.cert = Some(value()?.clone()),
            "--key" => target.tls.key = Some(value()?.clone()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(target)
}

/// A RESP array of bulk strings.
fn command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
    out
}

trait Io: Read + Write {}
impl<T: Read + Write> Io for T {}

/// A TLS client verifying the server against `--cacert`, presenting `--cert` / `--key`.
fn tls_client(target: &Target, tcp: TcpStream) -> Result<Box<dyn Io>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let cacert = target.tls.cacert.as_ref().ok_or("--tls needs --cacert")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cacert).map_err(|e| format!("{cacert}: {e}"))? {
        roots
            .add(cert.map_err(|e| format!("{cacert}: {e}"))?)
            .map_err(|e| format!("{cacert}: {e}"))?;
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&target.tls.cert, &target.tls.key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{cert}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{cert}: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--cert and --key go together".into()),
    };
    let name = ServerName::try_from(target.host.clone()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

fn connect(target: &Target) -> Result<Box<dyn Io>, String> {
    if let Some(path) = &target.socket {
        let stream =
            std::os::unix::net::UnixStream::connect(path).map_err(|e| format!("{path}: {e}"))?;
        stream.set_read_timeout(Some(TIMEOUT)).ok();
        stream.set_write_timeout(Some(TIMEOUT)).ok();
        return Ok(Box::new(stream));
    }
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}:{}: {e}", target.host, target.port))?
        .next()
        .ok_or(format!("{}: no address", target.host))?;
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).ok();
    stream.set_write_timeout(Some(TIMEOUT)).ok();
    if target.tls.enabled {
        return tls_client(target, stream);
    }
    Ok(Box::new(stream))
}

fn ping(target: &Target) -> Result<String, String> {
    let mut stream = connect(target)?;
    let mut request = Vec::new();
    if let Some(password) = &target.password {
        match &target.user {
            Some(user) => request.extend(command(&["AUTH", user, password])),
            None => request.extend(command(&["AUTH", password])),
        }
    }
    request.extend(command(&["PING"]));
    stream.write_all(&request).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if target.password.is_some() {
        read_line(&mut reader, &mut line)?;
        if !line.starts_with("+OK") {
            return Err(line.trim_end().to_string());
        }
        line.clear();
    }
    read_line(&mut reader, &mut line)?;
    match line.trim_end() {
        "+PONG" => Ok("PONG".into()),
        other => Err(other.trim_start_matches(['-', '+']).to_string()),
    }
}

fn read_line(reader: &mut impl BufRead, line: &mut String) -> Result<(), String> {
    match reader.read_line(line) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the check; returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    let result = parse(args).and_then(|target| ping(&target));
    match result {
        Ok(reply) => {
            println!("{reply}");
            0
        }
        Err(e) => {
            eprintln!("ferrocache ping: {e}");
            1
        }
    }
}
