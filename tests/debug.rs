//! DEBUG subcommands against the real binary: CHANGE-REPL-ID (seen in INFO), RELOAD and LOADAOF
//! (the dataset survives a save-and-load round trip; NOSAVE/NOFLUSH/MERGE), the push frame of
//! DEBUG PROTOCOL through a real client.

mod common;
use common::{RawClient, Server};

fn cmd(c: &mut RawClient, args: &[&str]) -> String {
    c.cmd_str(args)
}

fn info_field(c: &mut RawClient, section: &str, field: &str) -> String {
    let info = cmd(c, &["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO: {info}"))
        .trim()
        .to_string()
}

#[test]
fn change_repl_id_makes_a_new_history() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = server.raw();
    let before = info_field(&mut c, "replication", "master_replid");
    assert_eq!(cmd(&mut c, &["DEBUG", "CHANGE-REPL-ID"]), "+OK\r\n");
    let after = info_field(&mut c, "replication", "master_replid");
    assert_ne!(before, after);
    assert_eq!(after.len(), 40);
    assert!(after.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        info_field(&mut c, "replication", "master_replid2"),
        "0".repeat(40)
    );
    assert_eq!(
        info_field(&mut c, "replication", "second_repl_offset"),
        "-1"
    );
}
