//! Raw protocol behaviour over TCP against the real binary: framing, pipelining, hostile input.

mod common;
use common::Server;

#[test]
fn ping_inline_and_multibulk() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.send_raw(b"PING\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
    assert_eq!(c.cmd(&["PING", "hi"]), b"$2\r\nhi\r\n");
}

#[test]
fn pipelined_replies_arrive_in_order() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend(common::encode_command(&[b"SET", format!("k{i}").as_bytes(), format!("{i}").as_bytes()]));
        batch.extend(common::encode_command(&[b"GET", format!("k{i}").as_bytes()]));
    }
    c.send_raw(&batch);
    for i in 0..100 {
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(c.read_reply().unwrap(), format!("${}\r\n{v}\r\n", v.len()).into_bytes());
    }
}
