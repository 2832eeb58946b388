//! COMMAND DOCS of the bitmap commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("bitcount", "key:key ?index:block(start:int end:int ?index_unit:oneof@7.0.0(BYTE BIT))")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")]),
    Doc::new("bitfield", "key:key ?*operation:oneof(GET:encoding_offset:block(encoding offset:int) write:block(?OVERFLOW:wrap_sat_fail:oneof(WRAP SAT FAIL) write_operation:oneof(SET:encoding_offset_value:block(encoding offset:int value:int) INCRBY:encoding_offset_increment:block(encoding offset:int increment:int))))"),
    Doc::new("bitfield_ro", "key:key ?*+GET:encoding_offset:block(encoding offset:int)"),
    Doc::new("bitop", "operation:oneof(AND OR XOR NOT DIFF DIFF1 ANDOR ONE) destkey:key *key:key#1"),
    Doc::new("bitpos", "key:key bit:int ?index:block(start:int ?end_index:block(end:int ?index_unit:oneof@7.0.0(BYTE BIT)))")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")]),
    Doc::new("getbit", "key:key offset:int"),
    Doc::new("setbit", "key:key offset:int value:int"),
];
