//! `ferrocache ping`: a health check that needs no shell and no redis-cli, for container
//! images built `FROM scratch` (`healthcheck: test: ["CMD", "/ferrocache", "ping"]`).
//!
//! Connects like `redis-cli ping` (127.0.0.1:6379 unless told otherwise), authenticates when a
//! password is given (`-a`, or `REDISCLI_AUTH` as redis-cli reads it), sends PING and exits 0
//! only on PONG. Every wait is bounded, so a wedged server fails the check instead of hanging it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

struct Target {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
}

fn parse(args: &[String]) -> Result<Target, String> {
    let mut target = Target {
        host: "127.0.0.1".into(),
        port: 6379,
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

fn ping(target: &Target) -> Result<String, String> {
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}:{}: {e}", target.host, target.port))?
        .next()
        .ok_or(format!("{}: no address", target.host))?;
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).ok();
    stream.set_write_timeout(Some(TIMEOUT)).ok();
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut request = Vec::new();
    if let Some(password) = &target.password {
        match &target.user {
            Some(user) => request.extend(command(&["AUTH", user, password])),
            None => request.extend(command(&["AUTH", password])),
        }
    }
    request.extend(command(&["PING"]));
    writer.write_all(&request).map_err(|e| e.to_string())?;
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
