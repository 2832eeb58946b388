//! A small memcached-protocol load generator (there is no memtier_benchmark in Debian): GET or
//! SET of 100-byte values over a key space, from CONNS connections, PIPELINE requests per
//! round trip, and the server's CPU per request read from /proc/<SERVER_PID>/stat.
//!
//!   MC_PORT=11211 SERVER_PID=1234 OP=get cargo bench --bench memcached_load
//!
//! Environment: MC_PORT (required; without it the bench prints this usage and exits), OP
//! (get|set, default get), CONNS (50), REQUESTS (200000), PIPELINE (1), KEYS (100000),
//! VALUE_BYTES (100), SERVER_PID (for CPU per request), LABEL (first column of the output).
//! GET first stores every key once. Output, one line:
//!   label op pipeline requests ops/s p50_us p99_us server_us/op

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of a process, in microseconds.
fn cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // CLK_TCK is 100 on Linux.
    Some(ticks * 10_000)
}

/// Reads one reply: `STORED`, or `VALUE ... END` / `END` for a get.
fn read_reply(reader: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    reader.read_line(line)?;
    if line.starts_with("VALUE ") {
        let len: usize = line
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut data = vec![0u8; len + 2];
        reader.read_exact(&mut data)?;
        line.clear();
        reader.read_line(line)?;
    }
    if line.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn main() {
    let Ok(port) = std::env::var("MC_PORT") else {
        eprintln!("usage: MC_PORT=<port> [OP=get|set CONNS PIPELINE REQUESTS KEYS VALUE_BYTES SERVER_PID LABEL] cargo bench --bench memcached_load");
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let op = std::env::var("OP").unwrap_or_else(|_| "get".into());
    let conns = env_or("CONNS", 50).max(1);
    let requests = env_or("REQUESTS", 200_000);
    let pipeline = env_or("PIPELINE", 1).max(1);
    let keys = env_or("KEYS", 100_000).max(1);
    let value = "x".repeat(env_or("VALUE_BYTES", 100));
    let label = std::env::var("LABEL").unwrap_or_else(|_| "server".into());
    let pid: Option<u32> = std::env::var("SERVER_PID")
        .ok()
        .and_then(|p| p.parse().ok());

    if op == "get" {
        let stream = TcpStream::connect(&addr).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut line = String::new();
        for chunk in (0..keys).collect::<Vec<_>>().chunks(100) {
            let mut batch = String::new();
            for k in chunk {
                batch.push_str(&format!(
                    "set key:{k:08} 0 0 {}\r\n{value}\r\n",
                    value.len()
                ));
            }
            writer.write_all(batch.as_bytes()).unwrap();
            for _ in chunk {
                read_reply(&mut reader, &mut line).unwrap();
            }
        }
    }

    let per_conn = requests / conns / pipeline;
    let cpu_before = pid.and_then(cpu_us);
    let started = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let addr = addr.clone();
            let op = op.clone();
            let value = value.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).expect("connect");
                stream.set_nodelay(true).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let mut line = String::new();
                let mut latencies = Vec::with_capacity(per_conn);
                let mut seed = (c as u64 + 1) * 0x9e37_79b9_7f4a_7c15;
                let mut batch = String::new();
                for _ in 0..per_conn {
                    batch.clear();
                    for _ in 0..pipeline {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let k = seed as usize % keys;
                        if op == "set" {
                            batch.push_str(&format!(
                                "set key:{k:08} 0 0 {}\r\n{value}\r\n",
                                value.len()
                            ));
                        } else {
                            batch.push_str(&format!("get key:{k:08}\r\n"));
                        }
                    }
                    let t = Instant::now();
                    writer.write_all(batch.as_bytes()).unwrap();
                    for _ in 0..pipeline {
                        read_reply(&mut reader, &mut line).unwrap();
                    }
                    latencies.push(t.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = pid.and_then(cpu_us);
    let done = (per_conn * conns * pipeline) as f64;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let server_us = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) as f64 / done),
        _ => "-".into(),
    };
    println!(
        "{label} {op} {pipeline} {done} {:.0} {} {} {server_us}",
        done / elapsed,
        pct(0.50),
        pct(0.99)
    );
}
