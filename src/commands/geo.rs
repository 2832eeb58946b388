//! Geo commands: Redis's `geo` group. A geo set is a sorted set whose scores are 52-bit
//! geohashes (`keyspace::types::geohash`); GEOADD is a ZADD of encoded positions, and every
//! other zset command works on a geo set too.
//!
//! GEORADIUS, GEORADIUSBYMEMBER, their `_RO` forms, GEOSEARCH and GEOSEARCHSTORE share one
//! implementation, `search`, as in Redis: the same option grammar (what each form accepts),
//! the same order of checks and errors, the same cells read in the same order, and the same
//! sorting, so replies are byte for byte Redis's.

use crate::command;
use crate::commands::collection::read_in;
use crate::engine::args::{is, parse_double, parse_i64};
use crate::error::CommandError;
use crate::keyspace::types::geohash::{self, Search, Shape};
use crate::keyspace::types::zset::ScoreBound;
use crate::keyspace::types::ZSetValue;
use crate::protocol::Reply;
use crate::pubsub::notify;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::cmp::Ordering::Equal;

/// Adds the complexity line COMMAND DOCS reports.
const fn cx(spec: CommandSpec, complexity: &'static str) -> CommandSpec {
    CommandSpec { complexity, ..spec }
}

const GEO: &[&str] = &["geo", "slow"];

/// GEOSEARCHSTORE's destination and source.
const TWO_KEYS: KeySpec = KeySpec::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// Keys of GEORADIUS / GEORADIUSBYMEMBER: the source, and every argument that follows a
/// STORE or STOREDIST word (a superset of the one the command writes, so its shard is held).
fn radius_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    let mut keys = vec![(None, 1)];
    let words = argv.iter().enumerate().skip(5);
    keys.extend(words.filter_map(|(i, arg)| {
        let store = is(arg, "store") || is(arg, "storedist");
        (store && i + 1 < argv.len()).then_some((None, i + 1))
    }));
    keys
}

const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";
const RADIUS_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";

pub static COMMANDS: &[CommandSpec] = &[
    cx(command!("geoadd", -5, WRITE | DENYOOM, KeySpec::one(), GEO, "geo", "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", geoadd), "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    cx(command!("geodist", -4, READONLY, KeySpec::one(), GEO, "geo", "3.2.0", "Returns the distance between two members of a geospatial index.", geodist), "O(log(N))"),
    cx(command!("geohash", -2, READONLY, KeySpec::one(), GEO, "geo", "3.2.0", "Returns members from a geospatial index as geohash strings.", geohash_cmd), "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
    cx(command!("geopos", -2, READONLY, KeySpec::one(), GEO, "geo", "3.2.0", "Returns the longitude and latitude of members from a geospatial index.", geopos), "O(N) where N is the number of members requested."),
    cx(command!("geosearch", -7, READONLY, KeySpec::one(), GEO, "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle.", geosearch), SEARCH_COMPLEXITY),
    cx(command!("geosearchstore", -8, WRITE | DENYOOM, TWO_KEYS, GEO, "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", geosearchstore), SEARCH_COMPLEXITY),
    cx(command!("georadius", -6, WRITE | DENYOOM, KeySpec::Custom(radius_keys), GEO, "geo", "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", georadius), RADIUS_COMPLEXITY),
    cx(command!("georadiusbymember", -5, WRITE | DENYOOM, KeySpec::Custom(radius_keys), GEO, "geo", "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", georadiusbymember), RADIUS_COMPLEXITY),
    cx(command!("georadius_ro", -6, READONLY, KeySpec::one(), GEO, "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate.", georadius_ro), RADIUS_COMPLEXITY),
    cx(command!("georadiusbymember_ro", -5, READONLY, KeySpec::one(), GEO, "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a member.", georadiusbymember_ro), RADIUS_COMPLEXITY),
];

/// A longitude, latitude pair inside the Web Mercator limits, with Redis's errors.
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CommandError> {
    let lon = parse_double(lon)?;
    let lat = parse_double(lat)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(CommandError::err(format!(
            "invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// A unit's size in meters.
fn parse_unit(arg: &[u8]) -> Result<f64, CommandError> {
    match () {
        _ if is(arg, "m") => Ok(1.0),
        _ if is(arg, "km") => Ok(1000.0),
        _ if is(arg, "ft") => Ok(0.3048),
        _ if is(arg, "mi") => Ok(1609.34),
        _ => Err(CommandError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

/// A double with the error text Redis gives for this argument.
fn parse_double_or(arg: &[u8], what: &'static str) -> Result<f64, CommandError> {
    parse_double(arg).map_err(|_| CommandError::err(what))
}

/// `radius unit`: the radius and the unit's size in meters.
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CommandError> {
    let r = parse_double_or(radius, "need numeric radius")?;
    if r < 0.0 {
        return Err(CommandError::err("radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// `width height unit`.
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CommandError> {
    let w = parse_double_or(width, "need numeric width")?;
    let h = parse_double_or(height, "need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(CommandError::err("height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

fn geoadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut first = 2;
    while let Some(arg) = argv.get(first) {
        match () {
            _ if is(arg, "nx") => nx = true,
            _ if is(arg, "xx") => xx = true,
            _ if is(arg, "ch") => ch = true,
            _ => break,
        }
        first += 1;
    }
    let rest = argv.len() - first;
    // No triple at all falls through to ZADD's own check, which also answers a syntax error.
    if !rest.is_multiple_of(3) || (nx && xx) || rest == 0 {
        return Err(CommandError::Syntax);
    }
    let mut pairs = Vec::with_capacity(rest / 3);
    for triple in argv[first..].chunks_exact(3) {
        let (lon, lat) = parse_lon_lat(&triple[0], &triple[1])?;
        let score = geohash::score_of(lon, lat).expect("checked inside the limits");
        pairs.push((score, &triple[2][..]));
    }
    crate::commands::sorted_set::add_plain(ctx, &argv[1], &pairs, nx, xx, ch)
}

fn geodist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let to_meters = match argv.len() {
        5 => parse_unit(&argv[4])?,
        n if n > 5 => return Err(CommandError::Syntax),
        _ => 1.0,
    };
    let Some(z) = read_in::<ZSetValue>(ctx, &argv[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(a), Some(b)) = (z.score(&argv[2]), z.score(&argv[3])) else {
        return Ok(Reply::Nil);
    };
    let (lon1, lat1) = geohash::decode_score(a);
    let (lon2, lat2) = geohash::decode_score(b);
    let d = geohash::distance(lon1, lat1, lon2, lat2) / to_meters;
    Ok(Reply::Bulk(Bytes::from(geohash::format_distance(d))))
}

fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => Reply::Bulk(Bytes::copy_from_slice(&geohash::geohash_string(score))),
                None => Reply::Nil,
            })
            .collect(),
    ))
}

fn geopos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let z = read_in::<ZSetValue>(ctx, &argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => coordinates(geohash::decode_score(score)),
                None => Reply::NilArray,
            })
            .collect(),
    ))
}

fn coordinates((lon, lat): (f64, f64)) -> Reply {
    Reply::Array(vec![Reply::HumanDouble(lon), Reply::HumanDouble(lat)])
}

/// Which search command is running (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// GEORADIUS / GEORADIUS_RO: centre and radius are positional.
    Radius { store_allowed: bool },
    /// GEORADIUSBYMEMBER / _RO: the centre is a member.
    RadiusByMember { store_allowed: bool },
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE: destination at 1, source at 2.
    SearchStore,
}

impl Form {
    fn is_search(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }

    fn source_index(self) -> usize {
        if self == Form::SearchStore {
            2
        } else {
            1
        }
    }
}

fn georadius(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(
        ctx,
        argv,
        Form::Radius {
            store_allowed: true,
        },
    )
}

fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(
        ctx,
        argv,
        Form::Radius {
            store_allowed: false,
        },
    )
}

fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(
        ctx,
        argv,
        Form::RadiusByMember {
            store_allowed: true,
        },
    )
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(
        ctx,
        argv,
        Form::RadiusByMember {
            store_allowed: false,
        },
    )
}

fn geosearch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(ctx, argv, Form::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    search(ctx, argv, Form::SearchStore)
}

/// Result order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    None,
    Asc,
    Desc,
}

/// Where the search is centred, as given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum From {
    /// Not given (an error for GEOSEARCH, checked after all options).
    Unset,
    /// FROMMEMBER: the argument index of the member.
    Member(usize),
    LonLat(f64, f64),
}

/// A search's parsed options.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub from: From,
    /// Shape and the unit's size in meters, once given.
    pub shape: Option<(Shape, f64)>,
    pub with_dist: bool,
    pub with_hash: bool,
    pub with_coord: bool,
    pub any: bool,
    pub sort: Sort,
    /// 0: no limit.
    pub count: i64,
    /// Argument index of the destination key.
    pub store: Option<usize>,
    pub store_dist: bool,
}

/// What the option parser needs to know about the source key: GEOSEARCH's FROMMEMBER is
/// resolved while parsing (its error comes before later options' errors), and not at all when
/// the key is missing.
pub trait MemberLookup {
    /// `None`: no source key. `Some(None)`: the member is not in it.
    fn position(&self, member: &[u8]) -> Option<Option<(f64, f64)>>;
}

impl MemberLookup for Option<&ZSetValue> {
    fn position(&self, member: &[u8]) -> Option<Option<(f64, f64)>> {
        self.map(|z| z.score(member).map(geohash::decode_score))
    }
}

fn member_error() -> CommandError {
    CommandError::err("could not decode requested zset member")
}

/// Parses a search command's arguments after its key(s) in Redis's order, with Redis's errors.
/// Returns the options and the centre when it is known (None only when the source is missing
/// and the centre would have come from a member). Public for the parser's property test.
pub fn parse_options(
    argv: &[Bytes],
    form: Form,
    source: &impl MemberLookup,
) -> Result<(Options, Option<(f64, f64)>), CommandError> {
    let mut opts = Options {
        from: From::Unset,
        shape: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        any: false,
        sort: Sort::None,
        count: 0,
        store: None,
        store_dist: false,
    };
    let mut center = None;
    let base = match form {
        Form::Radius { .. } => {
            let (lon, lat) = parse_lon_lat(&argv[2], &argv[3])?;
            center = Some((lon, lat));
            let (r, unit) = parse_radius(&argv[4], &argv[5])?;
            opts.shape = Some((Shape::Radius(r), unit));
            6
        }
        Form::RadiusByMember { .. } => {
            match source.position(&argv[2]) {
                None => {}
                Some(None) => return Err(member_error()),
                Some(Some(pos)) => {
                    center = Some(pos);
                    let (r, unit) = parse_radius(&argv[3], &argv[4])?;
                    opts.shape = Some((Shape::Radius(r), unit));
                }
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            opts.store = Some(1);
            3
        }
    };
    let store_allowed = matches!(
        form,
        Form::Radius {
            store_allowed: true
        } | Form::RadiusByMember {
            store_allowed: true
        }
    );
    let search = form.is_search();
    let remaining = argv.len().saturating_sub(base);
    let mut i = 0;
    let (mut by_radius, mut by_box) = (false, false);
    while i < remaining {
        let at = base + i;
        let arg = &argv[at][..];
        if is(arg, "withdist") {
            opts.with_dist = true;
        } else if is(arg, "withhash") {
            opts.with_hash = true;
        } else if is(arg, "withcoord") {
            opts.with_coord = true;
        } else if is(arg, "any") {
            opts.any = true;
        } else if is(arg, "asc") {
            opts.sort = Sort::Asc;
        } else if is(arg, "desc") {
            opts.sort = Sort::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            let n = parse_i64(&argv[at + 1])?;
            if n <= 0 {
                return Err(CommandError::err("COUNT must be > 0"));
            }
            opts.count = n;
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && i + 1 < remaining && store_allowed {
            opts.store = Some(at + 1);
            opts.store_dist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && form == Form::SearchStore {
            opts.store_dist = true;
        } else if is(arg, "frommember")
            && i + 1 < remaining
            && search
            && !matches!(opts.from, From::LonLat(..))
        {
            match source.position(&argv[at + 1]) {
                None => {}
                Some(None) => return Err(member_error()),
                Some(Some(pos)) => center = Some(pos),
            }
            opts.from = From::Member(at + 1);
            i += 1;
        } else if is(arg, "fromlonlat")
            && i + 2 < remaining
            && search
            && !matches!(opts.from, From::Member(_))
        {
            let (lon, lat) = parse_lon_lat(&argv[at + 1], &argv[at + 2])?;
            center = Some((lon, lat));
            opts.from = From::LonLat(lon, lat);
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && search && !by_box {
            let (r, unit) = parse_radius(&argv[at + 1], &argv[at + 2])?;
            opts.shape = Some((Shape::Radius(r), unit));
            by_radius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && search && !by_radius {
            let (w, h, unit) = parse_box(&argv[at + 1], &argv[at + 2], &argv[at + 3])?;
            opts.shape = Some((
                Shape::Box {
                    width: w,
                    height: h,
                },
                unit,
            ));
            by_box = true;
            i += 3;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if opts.store.is_some() && (opts.with_dist || opts.with_hash || opts.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CommandError::err(format!(
            "{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if search && opts.from == From::Unset {
        return Err(CommandError::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(by_radius || by_box) {
        return Err(CommandError::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if opts.any && opts.count == 0 {
        return Err(CommandError::err(
            "the ANY argument requires COUNT argument",
        ));
    }
    Ok((opts, center))
}

/// One member found by a search.
struct Found {
    member: Bytes,
    score: f64,
    longitude: f64,
    latitude: f64,
    /// Meters until the reply or store divides it by the unit.
    dist: f64,
}

/// The members of `z` inside the search, in Redis's order (cell by cell, by score within a
/// cell); with `limit` > 0 (ANY), stops once that many are found.
fn members_inside(z: &ZSetValue, search: &Search, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for cell in search.cells() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = cell.score_range();
        let from = ScoreBound {
            value: min as f64,
            exclusive: false,
        };
        let end = max as f64;
        z.visit_from_score(from, |score, member| {
            if score >= end {
                return false;
            }
            let (longitude, latitude) = geohash::decode_score(score);
            if let Some(dist) = search.distance_if_inside(longitude, latitude) {
                found.push(Found {
                    member: Bytes::copy_from_slice(member.bytes()),
                    score,
                    longitude,
                    latitude,
                    dist,
                });
            }
            !(limit > 0 && found.len() >= limit)
        });
    }
    found
}

fn search(ctx: &mut Ctx<'_>, argv: &[Bytes], form: Form) -> CommandResult {
    let src = &argv[form.source_index()];
    let z = read_in::<ZSetValue>(ctx, src)?;
    let (opts, center) = parse_options(argv, form, &z)?;
    let (Some(z), Some(center), Some((shape, to_meters))) = (z, center, opts.shape) else {
        // No source key.
        return Ok(match opts.store {
            Some(at) => {
                let dst = &argv[at];
                let db = ctx.db();
                let now = ctx.now_ms;
                let (shard, hash) = ctx.shard_in(db, dst);
                if shard.remove(hash, dst, now).is_some() {
                    ctx.key_changed(db, dst);
                    ctx.notify(notify::GENERIC, "del", db, dst);
                }
                Reply::Int(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };
    let mut sort = opts.sort;
    if opts.count != 0 && sort == Sort::None && !opts.any {
        sort = Sort::Asc;
    }
    let search = Search {
        center,
        shape,
        to_meters,
    };
    let limit = if opts.any {
        usize::try_from(opts.count).unwrap_or(usize::MAX)
    } else {
        0
    };
    let mut found = members_inside(z, &search, limit);
    if found.is_empty() && opts.store.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    let returned = match usize::try_from(opts.count) {
        Ok(n) if n > 0 => n.min(found.len()),
        _ => found.len(),
    };
    // All of them: a stable sort, as glibc's qsort (a merge sort) is for Redis, so equal
    // distances keep the order they were found in. The first COUNT only: Redis's partial
    // quicksort, whose order of equal distances we reproduce.
    let by_distance = |a: &Found, b: &Found| a.dist.partial_cmp(&b.dist).unwrap_or(Equal);
    let order = |a: &Found, b: &Found| match sort {
        Sort::Desc => by_distance(b, a),
        _ => by_distance(a, b),
    };
    if sort != Sort::None {
        if returned == found.len() {
            found.sort_by(order);
        } else {
            geohash::partial_sort(&mut found, returned, &order);
        }
    }
    found.truncate(returned);
    for f in &mut found {
        f.dist /= to_meters;
    }
    let Some(at) = opts.store else {
        let options = usize::from(opts.with_dist)
            + usize::from(opts.with_hash)
            + usize::from(opts.with_coord);
        return Ok(Reply::Array(
            found
                .into_iter()
                .map(|f| {
                    if options == 0 {
                        return Reply::Bulk(f.member);
                    }
                    let mut item = Vec::with_capacity(options + 1);
                    item.push(Reply::Bulk(f.member));
                    if opts.with_dist {
                        item.push(Reply::Bulk(Bytes::from(geohash::format_distance(f.dist))));
                    }
                    if opts.with_hash {
                        item.push(Reply::Int(f.score as i64));
                    }
                    if opts.with_coord {
                        item.push(coordinates((f.longitude, f.latitude)));
                    }
                    Reply::Array(item)
                })
                .collect(),
        ));
    };
    let limits = crate::commands::sorted_set::limits(ctx);
    let member_max = found.iter().map(|f| f.member.len()).max().unwrap_or(0);
    let mut result = ZSetValue::with_hint(found.len(), member_max, limits);
    for f in &found {
        let score = if opts.store_dist { f.dist } else { f.score };
        result.insert(&f.member, score, limits);
    }
    let event = if form.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    Ok(crate::commands::sorted_set::store(
        ctx, &argv[at], result, event,
    ))
}

#[cfg(test)]
mod tests {
    use crate::testing::TestServer;

    #[test]
    fn add_search_and_store() {
        let mut t = TestServer::new();
        assert_eq!(
            t.resp(&[
                "GEOADD",
                "g",
                "13.361389",
                "38.115556",
                "Palermo",
                "15.087269",
                "37.502669",
                "Catania"
            ]),
            ":2\r\n"
        );
        assert_eq!(
            t.resp(&["GEODIST", "g", "Palermo", "Catania", "km"]),
            "$8\r\n166.2742\r\n"
        );
        assert_eq!(
            t.resp(&[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC"
            ]),
            "*2\r\n$7\r\nCatania\r\n$7\r\nPalermo\r\n"
        );
        assert_eq!(
            t.resp(&[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMMEMBER",
                "Palermo",
                "BYBOX",
                "400",
                "400",
                "km",
                "COUNT",
                "1"
            ]),
            ":1\r\n"
        );
        assert_eq!(
            t.resp(&["ZRANGE", "d", "0", "-1"]),
            "*1\r\n$7\r\nPalermo\r\n"
        );
        assert_eq!(
            t.resp(&["GEOADD", "g", "200", "10", "x"]),
            "-ERR invalid longitude,latitude pair 200.000000,10.000000\r\n"
        );
    }

    use super::{parse_options, Form, MemberLookup};
    use bytes::Bytes;
    use proptest::prelude::*;

    /// A source key with one member, `m`, or no key at all.
    struct Fake(bool);

    impl MemberLookup for Fake {
        fn position(&self, member: &[u8]) -> Option<Option<(f64, f64)>> {
            self.0.then(|| (member == b"m").then_some((1.0, 1.0)))
        }
    }

    const WORDS: &[&str] = &[
        "FROMMEMBER",
        "frommember",
        "FROMLONLAT",
        "BYRADIUS",
        "byradius",
        "BYBOX",
        "ASC",
        "DESC",
        "COUNT",
        "ANY",
        "WITHCOORD",
        "WITHDIST",
        "WITHHASH",
        "STOREDIST",
        "STORE",
        "m",
        "x",
        "1",
        "-1",
        "0",
        "200",
        "1e400",
        "inf",
        "abc",
        "km",
        "M",
        "yd",
        "",
    ];

    /// The grammar of GEOSEARCH's options as redis.io documents it and Redis checks it, written
    /// as a reference independent of the parser's code: the first error, or Ok.
    fn reference(tokens: &[&str], key: bool) -> Result<(), String> {
        let float = |t: &str| match t {
            "1" | "-1" | "0" | "200" | "inf" => Ok(t.parse::<f64>().unwrap()),
            _ => Err(()),
        };
        let unit = |t: &str| match t.to_ascii_lowercase().as_str() {
            "m" | "km" => Ok(()),
            _ => Err("ERR unsupported unit provided. please use M, KM, FT, MI".to_string()),
        };
        let (mut member, mut lonlat, mut radius, mut rect) = (false, false, false, false);
        let (mut any, mut count) = (false, false);
        let mut i = 0;
        while i < tokens.len() {
            let word = tokens[i].to_ascii_uppercase();
            let left = tokens.len() - i - 1;
            match word.as_str() {
                "WITHCOORD" | "WITHDIST" | "WITHHASH" | "ASC" | "DESC" => {}
                "ANY" => any = true,
                "COUNT" if left >= 1 => {
                    let n: i64 = tokens[i + 1]
                        .parse()
                        .map_err(|_| "ERR value is not an integer or out of range".to_string())?;
                    if n <= 0 {
                        return Err("ERR COUNT must be > 0".into());
                    }
                    count = true;
                    i += 1;
                }
                "FROMMEMBER" if left >= 1 && !lonlat => {
                    if key && tokens[i + 1] != "m" {
                        return Err("ERR could not decode requested zset member".into());
                    }
                    member = true;
                    i += 1;
                }
                "FROMLONLAT" if left >= 2 && !member => {
                    let not_float = || "ERR value is not a valid float".to_string();
                    let lon = float(tokens[i + 1]).map_err(|_| not_float())?;
                    let lat = float(tokens[i + 2]).map_err(|_| not_float())?;
                    if lon.abs() > 180.0 || lat.abs() > 85.05112878 {
                        return Err(format!(
                            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
                        ));
                    }
                    lonlat = true;
                    i += 2;
                }
                "BYRADIUS" if left >= 2 && !rect => {
                    let r =
                        float(tokens[i + 1]).map_err(|_| "ERR need numeric radius".to_string())?;
                    if r < 0.0 {
                        return Err("ERR radius cannot be negative".into());
                    }
                    unit(tokens[i + 2])?;
                    radius = true;
                    i += 2;
                }
                "BYBOX" if left >= 3 && !radius => {
                    let w =
                        float(tokens[i + 1]).map_err(|_| "ERR need numeric width".to_string())?;
                    let h =
                        float(tokens[i + 2]).map_err(|_| "ERR need numeric height".to_string())?;
                    if w < 0.0 || h < 0.0 {
                        return Err("ERR height or width cannot be negative".into());
                    }
                    unit(tokens[i + 3])?;
                    rect = true;
                    i += 3;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        if !(member || lonlat) {
            return Err(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH".into(),
            );
        }
        if !(radius || rect) {
            return Err(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH".into(),
            );
        }
        if any && !count {
            return Err("ERR the ANY argument requires COUNT argument".into());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Any sequence of GEOSEARCH words: no panic, and the parser accepts exactly what the
        /// grammar accepts, with the grammar's first error.
        #[test]
        fn geosearch_options_follow_the_grammar(
            picks in proptest::collection::vec(0..WORDS.len(), 0..12),
            key in any::<bool>(),
        ) {
            let tokens: Vec<&str> = picks.iter().map(|&i| WORDS[i]).collect();
            let mut argv = vec![Bytes::from_static(b"GEOSEARCH"), Bytes::from_static(b"k")];
            argv.extend(tokens.iter().map(|t| Bytes::copy_from_slice(t.as_bytes())));
            let got = parse_options(&argv, Form::Search, &Fake(key))
                .map(|_| ())
                .map_err(|e| e.to_string());
            prop_assert_eq!(got, reference(&tokens, key), "{:?}", tokens);
        }
    }
}
