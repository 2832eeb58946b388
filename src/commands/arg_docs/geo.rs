//! COMMAND DOCS of the geo commands: each command's arguments in the form
//! `arg_docs` parses (see its module comment), with its history and doc flags.

use crate::commands::arg_docs::Doc;

#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    Doc::new("geoadd", "key:key ?condition:oneof@6.2.0(NX XX) ?CH:change:tok@6.2.0 *longitude_latitude_member:block(longitude:dbl latitude:dbl member)")
        .history(&[("6.2.0", "Added the `CH`, `NX` and `XX` options.")]),
    Doc::new("geodist", "key:key member1 member2 ?unit:oneof(M KM FT MI)"),
    Doc::new("geohash", "key:key *member"),
    Doc::new("geopos", "key:key *member"),
    Doc::new("georadius", "key:key longitude:dbl latitude:dbl radius:dbl unit:oneof(M KM FT MI) ?WITHCOORD ?WITHDIST ?WITHHASH ?count:block(COUNT:count:int ?ANY@6.2.0) ?order:oneof(ASC DESC) ?STORE:key:key#1 ?STOREDIST:key:key#2")
        .history(&[("6.2.0", "Added the `ANY` option for `COUNT`."), ("7.0.0", "Added support for uppercase unit names.")])
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument"),
    Doc::new("georadius_ro", "key:key longitude:dbl latitude:dbl radius:dbl unit:oneof(M KM FT MI) ?WITHCOORD ?WITHDIST ?WITHHASH ?count:block(COUNT:count:int ?ANY@6.2.0) ?order:oneof(ASC DESC)")
        .history(&[("6.2.0", "Added the `ANY` option for `COUNT`.")])
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument"),
    Doc::new("georadiusbymember", "key:key member radius:dbl unit:oneof(M KM FT MI) ?WITHCOORD ?WITHDIST ?WITHHASH ?count:block(COUNT:count:int ?ANY) ?order:oneof(ASC DESC) ?STORE:key:key#1 ?STOREDIST:key:key#2")
        .history(&[("7.0.0", "Added support for uppercase unit names.")])
        .deprecated("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments"),
    Doc::new("georadiusbymember_ro", "key:key member radius:dbl unit:oneof(M KM FT MI) ?WITHCOORD ?WITHDIST ?WITHHASH ?count:block(COUNT:count:int ?ANY) ?order:oneof(ASC DESC)")
        .deprecated("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments"),
    Doc::new("geosearch", "key:key from:oneof(FROMMEMBER:member:str FROMLONLAT:longitude_latitude:block(longitude:dbl latitude:dbl)) by:oneof(circle:block(BYRADIUS:radius:dbl unit:oneof(M KM FT MI)) box:block(BYBOX:width:dbl height:dbl unit:oneof(M KM FT MI))) ?order:oneof(ASC DESC) ?count:block(COUNT:count:int ?ANY) ?WITHCOORD ?WITHDIST ?WITHHASH")
        .history(&[("7.0.0", "Added support for uppercase unit names.")]),
    Doc::new("geosearchstore", "destination:key source:key#1 from:oneof(FROMMEMBER:member:str FROMLONLAT:longitude_latitude:block(longitude:dbl latitude:dbl)) by:oneof(circle:block(BYRADIUS:radius:dbl unit:oneof(M KM FT MI)) box:block(BYBOX:width:dbl height:dbl unit:oneof(M KM FT MI))) ?order:oneof(ASC DESC) ?count:block(COUNT:count:int ?ANY) ?STOREDIST")
        .history(&[("7.0.0", "Added support for uppercase unit names.")]),
];
