//! COMMAND DOCS of the sorted-set commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("bzmpop", "timeout:dbl numkeys:int *key:key where:oneof(MIN MAX) ?COUNT:count:int"),
    Doc::new("bzpopmax", "*key:key timeout:dbl")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    Doc::new("bzpopmin", "*key:key timeout:dbl")
        .history(&[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")]),
    Doc::new("zadd", "key:key ?condition:oneof@3.0.2(NX XX) ?comparison:oneof@6.2.0(GT LT) ?CH:change:tok@3.0.2 ?INCR:increment:tok@3.0.2 *score_member:block(score:dbl member)")
        .history(&[("2.4.0", "Accepts multiple elements."), ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."), ("6.2.0", "Added the `GT` and `LT` options.")]),
    Doc::new("zcard", "key:key"),
    Doc::new("zcount", "key:key min:dbl max:dbl"),
    Doc::new("zdiff", "numkeys:int *key:key ?WITHSCORES"),
    Doc::new("zdiffstore", "destination:key numkeys:int *key:key#1"),
    Doc::new("zincrby", "key:key increment:int member"),
    Doc::new("zinter", "numkeys:int *key:key ?*WEIGHTS:weight:int ?AGGREGATE:aggregate:oneof(SUM MIN MAX) ?WITHSCORES"),
    Doc::new("zintercard", "numkeys:int *key:key ?LIMIT:limit:int"),
    Doc::new("zinterstore", "destination:key numkeys:int *key:key#1 ?*WEIGHTS:weight:int ?AGGREGATE:aggregate:oneof(SUM MIN MAX)"),
    Doc::new("zlexcount", "key:key min max"),
    Doc::new("zmpop", "numkeys:int *key:key where:oneof(MIN MAX) ?COUNT:count:int"),
    Doc::new("zmscore", "key:key *member"),
    Doc::new("zpopmax", "key:key ?count:int"),
    Doc::new("zpopmin", "key:key ?count:int"),
    Doc::new("zrandmember", "key:key ?options:block(count:int ?WITHSCORES)"),
    Doc::new("zrange", "key:key start stop ?sortby:oneof@6.2.0(BYSCORE BYLEX) ?REV@6.2.0 ?LIMIT:offset_count:block@6.2.0(offset:int count:int) ?WITHSCORES")
        .history(&[("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.")]),
    Doc::new("zrangebylex", "key:key min max ?LIMIT:offset_count:block(offset:int count:int)")
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument"),
    Doc::new("zrangebyscore", "key:key min:dbl max:dbl ?WITHSCORES@2.0.0 ?LIMIT:offset_count:block(offset:int count:int)")
        .history(&[("2.0.0", "Added the `WITHSCORES` modifier.")])
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument"),
    Doc::new("zrangestore", "dst:key src:key#1 min max ?sortby:oneof(BYSCORE BYLEX) ?REV ?LIMIT:offset_count:block(offset:int count:int)"),
    Doc::new("zrank", "key:key member ?WITHSCORE")
        .history(&[("7.2.0", "Added the optional `WITHSCORE` argument.")]),
    Doc::new("zrem", "key:key *member")
        .history(&[("2.4.0", "Accepts multiple elements.")]),
    Doc::new("zremrangebylex", "key:key min max"),
    Doc::new("zremrangebyrank", "key:key start:int stop:int"),
    Doc::new("zremrangebyscore", "key:key min:dbl max:dbl"),
    Doc::new("zrevrange", "key:key start:int stop:int ?WITHSCORES")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument"),
    Doc::new("zrevrangebylex", "key:key max min ?LIMIT:offset_count:block(offset:int count:int)")
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments"),
    Doc::new("zrevrangebyscore", "key:key max:dbl min:dbl ?WITHSCORES ?LIMIT:offset_count:block(offset:int count:int)")
        .history(&[("2.1.6", "`min` and `max` can be exclusive.")])
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments"),
    Doc::new("zrevrank", "key:key member ?WITHSCORE")
        .history(&[("7.2.0", "Added the optional `WITHSCORE` argument.")]),
    Doc::new("zscan", "key:key cursor:int ?MATCH:pattern:pat ?COUNT:count:int"),
    Doc::new("zscore", "key:key member"),
    Doc::new("zunion", "numkeys:int *key:key ?*WEIGHTS:weight:int ?AGGREGATE:aggregate:oneof(SUM MIN MAX) ?WITHSCORES"),
    Doc::new("zunionstore", "destination:key numkeys:int *key:key#1 ?*WEIGHTS:weight:int ?AGGREGATE:aggregate:oneof(SUM MIN MAX)"),
];
