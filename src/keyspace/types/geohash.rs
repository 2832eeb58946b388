//! Geohashes as Redis's geo commands store them in sorted-set scores, and the geometry of
//! GEOSEARCH.
//!
//! A position is a cell of a 2^26 × 2^26 grid over longitude [-180, 180] and latitude
//! [-85.05112878, 85.05112878] (the square Web Mercator limits). The cell's longitude index and
//! latitude index are interleaved bit by bit (latitude in the even bits, longitude in the odd
//! ones) into a 52-bit integer, which is the member's score: an exact double, and members close
//! in space are mostly close in score order. A cell at a coarser `step` is a prefix of that
//! integer, so the members inside it are one score range.
//!
//! A search covers its shape's bounding box with the cell of a step chosen from the radius
//! (the cell holding the centre) and its eight neighbours, reads each cell's score range, and
//! keeps the members whose distance (haversine, on a sphere of Redis's earth radius) puts them
//! inside the shape. Every rounding step here follows Redis's arithmetic so that the same
//! members come back with the same coordinates and distances, to the last bit.

/// Longitude limits.
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// Latitude limits (EPSG:900913 / Web Mercator).
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate of a stored position.
pub const STEP_MAX: u8 = 26;
/// Earth's radius in meters as Redis uses it.
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
/// Half the earth's circumference at the equator in Web Mercator meters (step estimation).
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(angle: f64) -> f64 {
    angle * D_R
}

fn rad_deg(angle: f64) -> f64 {
    angle / D_R
}

/// A cell: `bits` interleaved, `step` bits per coordinate. Step 0 is "no cell" (a pruned
/// neighbour).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    const NONE: Cell = Cell { bits: 0, step: 0 };

    fn is_none(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The score range `[min, max)` of the members inside this cell.
    pub fn score_range(&self) -> (u64, u64) {
        let shift = 52 - u32::from(self.step) * 2;
        (self.bits << shift, (self.bits.wrapping_add(1)) << shift)
    }
}

/// A coordinate range.
#[derive(Clone, Copy, Debug)]
struct Range {
    min: f64,
    max: f64,
}

/// The area a cell covers.
#[derive(Clone, Copy, Debug)]
struct Area {
    longitude: Range,
    latitude: Range,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the 32 bits of `v` to the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `x` into a u32.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// C's conversion of a non-negative double to `uint32_t` (truncation; the offsets here are
/// at most 2^step, so they fit).
fn to_u32(v: f64) -> u32 {
    v as u32
}

/// Encodes a position at `step` bits per coordinate within the given ranges; `None` outside
/// them (or outside the Web Mercator limits).
fn encode_in(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Cell> {
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    let scale = (1u64 << step) as f64;
    lat_offset *= scale;
    long_offset *= scale;
    Some(Cell {
        bits: spread(to_u32(lat_offset)) | (spread(to_u32(long_offset)) << 1),
        step,
    })
}

/// The cell of a position at `step` (None outside the limits).
pub fn encode(longitude: f64, latitude: f64, step: u8) -> Option<Cell> {
    encode_in(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

/// The score a position is stored with (GEOADD): its step-26 cell as a double. A position on
/// the upper limit lands one past the grid, as in Redis, and keeps that bit.
pub fn score_of(longitude: f64, latitude: f64) -> Option<f64> {
    encode(longitude, latitude, STEP_MAX).map(|cell| cell.bits as f64)
}

/// The area a cell covers within the given ranges.
fn decode_in(long_range: Range, lat_range: Range, cell: Cell) -> Area {
    let lat_index = squash(cell.bits);
    let long_index = squash(cell.bits >> 1);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let div = (1u64 << cell.step) as f64;
    Area {
        latitude: Range {
            min: lat_range.min + (f64::from(lat_index) / div) * lat_scale,
            max: lat_range.min + (f64::from(lat_index.wrapping_add(1)) / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (f64::from(long_index) / div) * long_scale,
            max: long_range.min + (f64::from(long_index.wrapping_add(1)) / div) * long_scale,
        },
    }
}

/// C's `(uint64_t)` conversion of a score as x86-64 does it: truncation, negative values
/// wrapped (two's complement), values from 2^63 through the subtract-and-flip sequence, and
/// 2^64 or more to 0. Stored geo scores are 52-bit integers; this decides what GEOPOS and
/// friends answer for a member added with ZADD.
fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if score >= 2.0 * TWO_63 {
        0
    } else if score >= TWO_63 {
        ((score - TWO_63) as i64 as u64) ^ (1 << 63)
    } else {
        score as i64 as u64
    }
}

/// The position (longitude, latitude) a score stands for: the centre of its step-26 cell,
/// clamped to the limits.
pub fn decode_score(score: f64) -> (f64, f64) {
    let cell = Cell {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    let area = decode_in(LONG_RANGE, LAT_RANGE, cell);
    let longitude = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (longitude, latitude)
}

const GEOALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// The standard 11-character geohash of a score (GEOHASH): the position re-encoded over
/// latitude [-90, 90]; the 11th character stands for bits the score does not have ('0').
pub fn geohash_string(score: f64) -> [u8; 11] {
    let (longitude, latitude) = decode_score(score);
    let standard_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode_in(LONG_RANGE, standard_lat, longitude, latitude, STEP_MAX)
        .map_or(0, |cell| cell.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        let index = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = GEOALPHABET[index as usize];
    }
    out
}

/// Distance in meters between two latitudes on one meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance in meters (haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same meridian: the latitude difference alone, without the trigonometry.
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What a search covers. Sizes are in meters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: its centre (longitude, latitude), shape, and the unit's size in meters (the shape
/// is given in that unit).
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub center: (f64, f64),
    pub shape: Shape,
    pub to_meters: f64,
}

impl Search {
    /// The distance in meters from the centre to the point, when the point is inside the shape.
    pub fn distance_if_inside(&self, longitude: f64, latitude: f64) -> Option<f64> {
        let (x, y) = self.center;
        match self.shape {
            Shape::Radius(radius) => {
                let d = distance(x, y, longitude, latitude);
                (d <= radius * self.to_meters).then_some(d)
            }
            Shape::Box { width, height } => {
                let (width, height) = (width * self.to_meters, height * self.to_meters);
                if lat_distance(latitude, y) > height / 2.0 {
                    return None;
                }
                if distance(longitude, latitude, x, latitude) > width / 2.0 {
                    return None;
                }
                Some(distance(x, y, longitude, latitude))
            }
        }
    }

    /// The bounding box as (min longitude, min latitude, max longitude, max latitude).
    fn bounding_box(&self) -> [f64; 4] {
        let (longitude, latitude) = self.center;
        let (half_height, half_width) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.to_meters * half_height;
        let width = self.to_meters * half_width;
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
        // The widest edge is the one nearer the pole... of the hemisphere the centre is in.
        let long_delta = if latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            longitude - long_delta,
            latitude - lat_delta,
            longitude + long_delta,
            latitude + lat_delta,
        ]
    }

    /// The cells to read, in Redis's order: the centre's cell, then north, south, east, west,
    /// north-east, north-west, south-east, south-west; pruned neighbours are left out, and a
    /// neighbour equal to the one read before it (a huge radius) is read once.
    pub fn cells(&self) -> Vec<Cell> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let (longitude, latitude) = self.center;
        let radius_meters = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.to_meters;
        let mut steps = estimate_steps(radius_meters, latitude);
        let mut center = encode(longitude, latitude, steps).unwrap_or(Cell {
            bits: 0,
            step: steps,
        });
        let mut n = Neighbours::of(center);
        let decode = |c: Cell| decode_in(LONG_RANGE, LAT_RANGE, c);
        let decrease_step = decode(n.north).latitude.max < max_lat
            || decode(n.south).latitude.min > min_lat
            || decode(n.east).longitude.max < max_lon
            || decode(n.west).longitude.min > min_lon;
        if steps > 1 && decrease_step {
            steps -= 1;
            center = encode(longitude, latitude, steps).unwrap_or(Cell {
                bits: 0,
                step: steps,
            });
            n = Neighbours::of(center);
        }
        let area = decode(center);
        if steps >= 2 {
            if area.latitude.min < min_lat {
                n.south = Cell::NONE;
                n.south_west = Cell::NONE;
                n.south_east = Cell::NONE;
            }
            if area.latitude.max > max_lat {
                n.north = Cell::NONE;
                n.north_east = Cell::NONE;
                n.north_west = Cell::NONE;
            }
            if area.longitude.min < min_lon {
                n.west = Cell::NONE;
                n.south_west = Cell::NONE;
                n.north_west = Cell::NONE;
            }
            if area.longitude.max > max_lon {
                n.east = Cell::NONE;
                n.south_east = Cell::NONE;
                n.north_east = Cell::NONE;
            }
        }
        let all = [
            center,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ];
        let mut out = Vec::with_capacity(9);
        // Redis compares with the last cell read only once a neighbour has been read (the
        // centre's cell is never compared against), and so do we.
        let mut last: Option<Cell> = None;
        for cell in all {
            if cell.is_none() {
                continue;
            }
            if last == Some(cell) {
                continue;
            }
            if !out.is_empty() {
                last = Some(cell);
            } else {
                last = None;
            }
            out.push(cell);
        }
        out
    }
}

/// The step whose cells are about as large as the radius (coarser near the poles).
fn estimate_steps(mut range_meters: f64, latitude: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The eight cells around one, at its step (wrapping around the grid's edges).
#[derive(Clone, Copy, Debug)]
struct Neighbours {
    north: Cell,
    south: Cell,
    east: Cell,
    west: Cell,
    north_east: Cell,
    north_west: Cell,
    south_east: Cell,
    south_west: Cell,
}

impl Neighbours {
    fn of(cell: Cell) -> Neighbours {
        let at = |dx: i8, dy: i8| move_y(move_x(cell, dx), dy);
        Neighbours {
            east: at(1, 0),
            west: at(-1, 0),
            south: at(0, -1),
            north: at(0, 1),
            north_west: at(-1, 1),
            south_west: at(-1, -1),
            north_east: at(1, 1),
            south_east: at(1, -1),
        }
    }
}

const ODD_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// Moves a cell one column east (`d > 0`) or west (`d < 0`): the longitude bits (odd) count
/// up or down with the latitude bits held out of the carry.
fn move_x(cell: Cell, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let shift = 64 - u32::from(cell.step) * 2;
    let mut x = cell.bits & ODD_BITS;
    let y = cell.bits & EVEN_BITS;
    let zz = EVEN_BITS.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= ODD_BITS.checked_shr(shift).unwrap_or(0);
    Cell {
        bits: x | y,
        step: cell.step,
    }
}

/// Moves a cell one row north (`d > 0`) or south (`d < 0`).
fn move_y(cell: Cell, d: i8) -> Cell {
    if d == 0 {
        return cell;
    }
    let shift = 64 - u32::from(cell.step) * 2;
    let x = cell.bits & ODD_BITS;
    let mut y = cell.bits & EVEN_BITS;
    let zz = ODD_BITS.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= EVEN_BITS.checked_shr(shift).unwrap_or(0);
    Cell {
        bits: x | y,
        step: cell.step,
    }
}

/// A distance as Redis prints it: four decimals, from the value times 10^4 rounded to an
/// integer (half to even, as `llrint`), which is not always what an exact `%.4f` would print.
pub fn format_distance(value: f64) -> String {
    if value == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = (value * 10000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let n = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", n / 10000, n % 10000)
}

/// Sorts enough of `items` that `items[..k]` holds the first `k` in order, exactly as Redis's
/// `pqsort` (Bentley and McIlroy's quicksort that skips partitions outside the wanted range)
/// leaves them, including the order of equal elements, which a partial sort of another kind
/// would not reproduce.
pub fn partial_sort<T>(items: &mut [T], k: usize, cmp: &impl Fn(&T, &T) -> std::cmp::Ordering) {
    if k == 0 || items.is_empty() {
        return;
    }
    pqsort(items, 0, items.len(), cmp, 0, k - 1);
}

fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &impl Fn(&T, &T) -> std::cmp::Ordering,
) -> usize {
    use std::cmp::Ordering::{Greater, Less};
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

/// Swaps `v[a..a + n]` with `v[b..b + n]` element by element.
fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// `pqsort` on `v[lo..lo + n]`, wanting ranks `lrange..=rrange` of the whole slice.
fn pqsort<T>(
    v: &mut [T],
    mut lo: usize,
    mut n: usize,
    cmp: &impl Fn(&T, &T) -> std::cmp::Ordering,
    lrange: usize,
    rrange: usize,
) {
    use std::cmp::Ordering::{Equal, Greater, Less};
    loop {
        if n < 7 {
            for pm in lo + 1..lo + n {
                let mut pl = pm;
                while pl > lo && cmp(&v[pl - 1], &v[pl]) == Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(lo, pm);
        let (mut pa, mut pb) = (lo + 1, lo + 1);
        // `pc`/`pd` may step to just below `pb` (one below `lo + 1` at the least): keep them
        // as signed positions.
        let (mut pc, mut pd) = ((lo + n - 1) as isize, (lo + n - 1) as isize);
        loop {
            while pb as isize <= pc {
                let c = cmp(&v[pb], &v[lo]);
                if c == Greater {
                    break;
                }
                if c == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let c = cmp(&v[pc as usize], &v[lo]);
                if c == Less {
                    break;
                }
                if c == Equal {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let pn = lo + n;
        let r = (pa - lo).min(pb - pa);
        vecswap(v, lo, pb - r, r);
        let r = ((pd - pc) as usize).min(pn - pd as usize - 1);
        vecswap(v, pb, pn - r, r);
        let wanted = |start: usize, len: usize| !(rrange < start || lrange >= start + len);
        let left = pb - pa;
        if left > 1 && wanted(lo, left) {
            pqsort(v, lo, left, cmp, lrange, rrange);
        }
        let right = (pd - pc) as usize;
        if right > 1 {
            lo = pn - right;
            n = right;
            if wanted(lo, n) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_positions_of_known_points() {
        // Palermo, as in Redis's documentation.
        let score = score_of(13.361389, 38.115556).unwrap();
        assert_eq!(score, 3479099956230698.0);
        let (lon, lat) = decode_score(score);
        assert_eq!((lon, lat), (13.361389338970184, 38.1155563954963));
        assert_eq!(&geohash_string(score), b"sqc8b49rny0");
        let catania = score_of(15.087269, 37.502669).unwrap();
        let (lon2, lat2) = decode_score(catania);
        assert_eq!(
            format_distance(distance(lon, lat, lon2, lat2) / 1000.0),
            "166.2742"
        );
    }

    #[test]
    fn limits_keep_the_bits_past_the_grid() {
        assert_eq!(score_of(180.0, 85.05112878), Some(13510798882111488.0));
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        // Scores no GEOADD writes decode as the C conversion reads them.
        assert_eq!(decode_score(-1.0), (180.0, LAT_MAX));
        assert_eq!(decode_score(1e20), decode_score(0.0));
    }

    #[test]
    fn neighbours_wrap_and_step() {
        let cell = encode(0.0, 0.0, 1).unwrap();
        let n = Neighbours::of(cell);
        assert_eq!(n.east.step, 1);
        assert_eq!(move_x(move_x(cell, 1), -1), cell);
        assert_eq!(move_y(move_y(cell, 1), -1), cell);
    }

    #[test]
    fn distance_text() {
        assert_eq!(format_distance(0.0), "0.0000");
        // 11047714.38474999927 times 10^4 rounds to ...847.5 as a double, then to even.
        assert_eq!(format_distance(11_047_714.384_75), "11047714.3848");
        assert_eq!(format_distance(0.5), "0.5000");
        assert_eq!(format_distance(12.25), "12.2500");
    }

    #[test]
    fn partial_sort_orders_the_prefix() {
        let mut r = 12345u64;
        for len in [0usize, 1, 5, 7, 8, 39, 41, 100, 300] {
            for k in [1usize, 3, 10, 50, 300] {
                let mut v: Vec<(u64, usize)> = (0..len)
                    .map(|i| {
                        r = r
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((r >> 60) % 5, i)
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by_key(|x| x.0);
                partial_sort(&mut v, k, &|a, b| a.0.cmp(&b.0));
                let k = k.min(len);
                let keys: Vec<u64> = v[..k].iter().map(|x| x.0).collect();
                let want: Vec<u64> = sorted[..k].iter().map(|x| x.0).collect();
                assert_eq!(keys, want, "len {len} k {k}");
            }
        }
    }
}
