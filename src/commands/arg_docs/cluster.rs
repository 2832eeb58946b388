//! COMMAND DOCS of the cluster commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("asking", ""),
    Doc::new("cluster", ""),
    Doc::new("cluster|addslots", "*slot:int")
        .complexity("O(N) where N is the total number of hash slot arguments"),
    Doc::new("cluster|addslotsrange", "*start-slot_end-slot:block(start-slot:int end-slot:int)")
        .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    Doc::new("cluster|bumpepoch", "")
        .complexity("O(1)"),
    Doc::new("cluster|count-failure-reports", "node-id")
        .complexity("O(N) where N is the number of failure reports"),
    Doc::new("cluster|countkeysinslot", "slot:int")
        .complexity("O(1)"),
    Doc::new("cluster|delslots", "*slot:int")
        .complexity("O(N) where N is the total number of hash slot arguments"),
    Doc::new("cluster|delslotsrange", "*start-slot_end-slot:block(start-slot:int end-slot:int)")
        .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    Doc::new("cluster|failover", "?options:oneof(FORCE TAKEOVER)")
        .complexity("O(1)"),
    Doc::new("cluster|flushslots", "")
        .complexity("O(1)"),
    Doc::new("cluster|forget", "node-id")
        .complexity("O(1)"),
    Doc::new("cluster|getkeysinslot", "slot:int count:int")
        .complexity("O(log(N)) where N is the number of requested keys"),
    Doc::new("cluster|help", "")
        .complexity("O(1)"),
    Doc::new("cluster|info", "")
        .complexity("O(1)"),
    Doc::new("cluster|keyslot", "key")
        .complexity("O(N) where N is the number of bytes in the key"),
    Doc::new("cluster|links", "")
        .complexity("O(N) where N is the total number of Cluster nodes"),
    Doc::new("cluster|meet", "ip port:int ?cluster_bus_port:int@4.0.0")
        .complexity("O(1)")
        .history(&[("4.0.0", "Added the optional `cluster_bus_port` argument.")]),
    Doc::new("cluster|myid", "")
        .complexity("O(1)"),
    Doc::new("cluster|myshardid", "")
        .complexity("O(1)"),
    Doc::new("cluster|nodes", "")
        .complexity("O(N) where N is the total number of Cluster nodes"),
    Doc::new("cluster|replicas", "node-id")
        .complexity("O(1)"),
    Doc::new("cluster|replicate", "node-id")
        .complexity("O(1)"),
    Doc::new("cluster|reset", "?hard_soft:oneof(HARD SOFT)")
        .complexity("O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."),
    Doc::new("cluster|saveconfig", "")
        .complexity("O(1)"),
    Doc::new("cluster|set-config-epoch", "config-epoch:int")
        .complexity("O(1)"),
    Doc::new("cluster|setslot", "slot:int subcommand:oneof(IMPORTING:node-id:str MIGRATING:node-id:str NODE:node-id:str STABLE)")
        .complexity("O(1)"),
    Doc::new("cluster|shards", "")
        .complexity("O(N) where N is the total number of cluster nodes"),
    Doc::new("cluster|slaves", "node-id")
        .complexity("O(1)")
        .deprecated("5.0.0", "`CLUSTER REPLICAS`"),
    Doc::new("cluster|slots", "")
        .complexity("O(N) where N is the total number of Cluster nodes")
        .history(&[("4.0.0", "Added node IDs."), ("7.0.0", "Added additional networking metadata field.")])
        .deprecated("7.0.0", "`CLUSTER SHARDS`"),
    Doc::new("readonly", ""),
    Doc::new("readwrite", ""),
];
