//! The Prometheus endpoint (metrics-port) scraped over real HTTP: INFO figures, keyspace per
//! database, per-command histograms, per-prefix hit ratios, and the refusals of anything else.

mod common;
use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Sends `request` raw and returns (status line, body).
fn http(port: u16, request: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request).unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn scrape_reports_info_commands_and_prefixes() {
    let port = free_port();
    let server = Server::start(&[
        "--metrics-port",
        &port.to_string(),
        "--keyspace-stats-prefixes",
        "session:",
    ]);
    let mut c = server.raw();
    c.cmd(&["SET", "session:1", "v"]);
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["GET", "session:1"]);
    c.cmd(&["GET", "session:2"]);
    let (status, body) = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        metric(&body, "ferrocache_db_keys{db=\"0\"}"),
        Some(2.0),
        "{body}"
    );
    assert!(metric(&body, "ferrocache_connected_clients").unwrap() >= 1.0);
    assert!(metric(&body, "ferrocache_used_memory").unwrap() > 0.0);
    assert_eq!(metric(&body, "ferrocache_keyspace_hits"), Some(1.0));
    assert_eq!(
        metric(&body, "ferrocache_command_calls_total{cmd=\"set\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &body,
            "ferrocache_command_duration_seconds_bucket{cmd=\"set\",le=\"+Inf\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &body,
            "ferrocache_command_duration_seconds_count{cmd=\"get\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(&body, "ferrocache_prefix_hit_ratio{prefix=\"session:\"}"),
        Some(0.5)
    );
    assert!(body.contains("# TYPE ferrocache_command_duration_seconds histogram\n"));
    // Every sample line is `name{labels} number`.
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    let (status, _) = http(port, b"GET /other HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http(port, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let mut huge = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20_000));
    let (status, _) = http(port, &huge);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    // The Redis port keeps serving.
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn off_by_default() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd_str(&["CONFIG", "GET", "metrics-port"]),
        "*2\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n"
    );
}
