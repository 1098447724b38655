//! Geohash arithmetic exactly as Redis 7.0 does it (`geohash.c`, `geohash_helper.c`): the
//! 52-bit interleaved score, its decoding, the eight neighbours of a box, the boxes covering a
//! search area and the haversine distance. Every floating point step follows the C code in
//! the same order so scores, distances and result sets come out bit for bit the same.

/// 26 bits per coordinate: 52-bit scores.
pub const STEP_MAX: u8 = 26;

pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

/// Earth's quadratic mean radius for WGS-84, in meters.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
/// `M_PI / 180.0`, computed the way the C macro is.
const D_R: f64 = std::f64::consts::PI / 180.0;

#[inline]
fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

#[inline]
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A geohash of `step` bits per coordinate (`GeoHashBits`). Both zero marks an unused box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    fn is_zero(&self) -> bool {
        self.max == 0.0 && self.min == 0.0
    }
}

/// The box a hash covers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// The search shape of GEORADIUS / GEOSEARCH (`GeoShape`).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Centre: longitude, latitude.
    pub xy: [f64; 2],
    /// Meters per unit.
    pub conversion: f64,
    pub kind: ShapeKind,
}

#[derive(Debug, Clone, Copy)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// Redis's internal coordinate ranges (latitudes limited to the Web Mercator ones).
pub const WGS84_LONG: Range = Range { min: LONG_MIN, max: LONG_MAX };
pub const WGS84_LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };

/// Interleaves the low 32 bits of `x` (even positions) and `y` (odd positions).
fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] =
        [0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = xlo as u64;
    let mut y = ylo as u64;
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The inverse of [`interleave64`]: even bits in the low half, odd bits in the high half.
fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// `geohashEncode`: None when the arguments are out of range.
pub fn encode(long_range: Range, lat_range: Range, longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 || lat_range.is_zero() || long_range.is_zero() {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min || latitude > lat_range.max || longitude < long_range.min || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(HashBits { bits: interleave64(lat_offset as u32, long_offset as u32), step })
}

/// `geohashEncodeWGS84`.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// `geohashDecode`: the box of a hash.
pub fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() || lat_range.is_zero() || long_range.is_zero() {
        return None;
    }
    let step = hash.step;
    let hash_sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = hash_sep as u32;
    let ilono = (hash_sep >> 32) as u32;
    let div = (1u64 << step) as f64;
    // `(ilato + 1)` is an unsigned 32-bit addition in C.
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_range.min + (ilato.wrapping_add(1) as f64 * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: long_range.min + (ilono.wrapping_add(1) as f64 * 1.0 / div) * long_scale,
        },
    })
}

/// The centre of a box, clamped to the valid coordinates.
fn area_to_long_lat(area: &Area) -> [f64; 2] {
    let mut x = (area.longitude.min + area.longitude.max) / 2.0;
    x = x.clamp(LONG_MIN, LONG_MAX);
    let mut y = (area.latitude.min + area.latitude.max) / 2.0;
    y = y.clamp(LAT_MIN, LAT_MAX);
    [x, y]
}

/// Decodes a sorted set score into (longitude, latitude) (`decodeGeohash`).
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = HashBits { bits: c_double_to_u64(score), step: STEP_MAX };
    decode(WGS84_LONG, WGS84_LAT, hash).map(|a| area_to_long_lat(&a))
}

/// C's `(uint64_t)` cast of a double as gcc compiles it on x86-64 (scores set with ZADD can be
/// negative or huge): `cvttsd2si`, with values from 2^63 up shifted down first.
pub fn c_double_to_u64(x: f64) -> u64 {
    const TWO63: f64 = (1u64 << 63) as f64;
    fn cvttsd2si(x: f64) -> i64 {
        if x.is_nan() || !(-TWO63..TWO63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    }
    if x < TWO63 || x.is_nan() {
        cvttsd2si(x) as u64
    } else {
        (cvttsd2si(x - TWO63) as u64) ^ (1u64 << 63)
    }
}

/// `geohashAlign52Bits`.
pub fn align52(hash: HashBits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The score GEOADD stores for a point (already checked to be in range).
pub fn score_of(longitude: f64, latitude: f64) -> f64 {
    let hash = encode_wgs84(longitude, latitude, STEP_MAX).unwrap_or_default();
    align52(HashBits { bits: hash.bits, step: STEP_MAX }) as f64
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - hash.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - hash.step as u32 * 2);
    hash.bits = x | y;
}

/// The eight boxes around a hash (`GeoHashNeighbors`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Neighbors {
    pub north: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub south: HashBits,
    pub north_east: HashBits,
    pub south_east: HashBits,
    pub north_west: HashBits,
    pub south_west: HashBits,
}

fn moved(hash: &HashBits, dx: i8, dy: i8) -> HashBits {
    let mut h = *hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

pub fn neighbors(hash: &HashBits) -> Neighbors {
    Neighbors {
        east: moved(hash, 1, 0),
        west: moved(hash, -1, 0),
        south: moved(hash, 0, -1),
        north: moved(hash, 0, 1),
        north_west: moved(hash, -1, 1),
        north_east: moved(hash, 1, 1),
        south_east: moved(hash, 1, -1),
        south_west: moved(hash, -1, -1),
    }
}

/// `geohashEstimateStepsByRadius`: the precision of the nine boxes searched for a radius.
pub fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// `geohashBoundingBox`: [min_lon, min_lat, max_lon, max_lat] of the search shape.
pub fn bounding_box(shape: &Shape) -> [f64; 4] {
    let [longitude, latitude] = shape.xy;
    let (height, width) = match shape.kind {
        ShapeKind::Radius(r) => (shape.conversion * r, shape.conversion * r),
        ShapeKind::Box { width, height } => (shape.conversion * (height / 2.0), shape.conversion * (width / 2.0)),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
    let long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
    let southern = latitude < 0.0;
    [
        if southern { longitude - long_delta_bottom } else { longitude - long_delta_top },
        latitude - lat_delta,
        if southern { longitude + long_delta_bottom } else { longitude + long_delta_top },
        latitude + lat_delta,
    ]
}

/// The centre box and its neighbours that together cover a search (`GeoHashRadius`).
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    pub hash: HashBits,
    pub neighbors: Neighbors,
}

impl Areas {
    /// The boxes in the order Redis visits them.
    pub fn boxes(&self) -> [HashBits; 9] {
        let n = &self.neighbors;
        [self.hash, n.north, n.south, n.east, n.west, n.north_east, n.north_west, n.south_east, n.south_west]
    }
}

/// `geohashCalculateAreasByShapeWGS84`.
pub fn areas_by_shape(shape: &Shape) -> Areas {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let [longitude, latitude] = shape.xy;
    let radius_meters = match shape.kind {
        ShapeKind::Radius(r) => r,
        ShapeKind::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
    } * shape.conversion;
    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let compute = |steps: u8| {
        let hash =
            encode(WGS84_LONG, WGS84_LAT, longitude, latitude, steps).unwrap_or(HashBits { bits: 0, step: steps });
        let nb = neighbors(&hash);
        let area = decode(WGS84_LONG, WGS84_LAT, hash).unwrap_or_default();
        (hash, nb, area)
    };
    let (mut hash, mut nb, mut area) = compute(steps);
    let dec = |h: HashBits| decode(WGS84_LONG, WGS84_LAT, h).unwrap_or_default();
    let north = dec(nb.north);
    let south = dec(nb.south);
    let east = dec(nb.east);
    let west = dec(nb.west);
    let decrease_step = north.latitude.max < max_lat
        || south.latitude.min > min_lat
        || east.longitude.max < max_lon
        || west.longitude.min > min_lon;
    if steps > 1 && decrease_step {
        steps -= 1;
        (hash, nb, area) = compute(steps);
    }
    if steps >= 2 {
        let zero = HashBits::default();
        if area.latitude.min < min_lat {
            nb.south = zero;
            nb.south_west = zero;
            nb.south_east = zero;
        }
        if area.latitude.max > max_lat {
            nb.north = zero;
            nb.north_east = zero;
            nb.north_west = zero;
        }
        if area.longitude.min < min_lon {
            nb.west = zero;
            nb.south_west = zero;
            nb.north_west = zero;
        }
        if area.longitude.max > max_lon {
            nb.east = zero;
            nb.south_east = zero;
            nb.north_east = zero;
        }
    }
    Areas { hash, neighbors: nb }
}

/// Score interval [min, max) of the points inside a box (`scoresOfGeoHashBox`).
pub fn scores_of_box(hash: HashBits) -> (u64, u64) {
    let min = align52(hash);
    let max = align52(HashBits { bits: hash.bits.wrapping_add(1), step: hash.step });
    (min, max)
}

/// Distance between two latitudes on the same meridian.
fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Haversine great circle distance in meters (`geohashGetDistance`).
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// Whether a decoded point lies in the shape, and its distance (meters) from the centre
/// (`geoWithinShape` after decoding).
pub fn within_shape(shape: &Shape, xy: [f64; 2]) -> Option<f64> {
    let [x1, y1] = shape.xy;
    let [x2, y2] = xy;
    match shape.kind {
        ShapeKind::Radius(r) => {
            let d = distance(x1, y1, x2, y2);
            (d <= r * shape.conversion).then_some(d)
        }
        ShapeKind::Box { width, height } => {
            let (width_m, height_m) = (width * shape.conversion, height * shape.conversion);
            if lat_distance(y2, y1) > height_m / 2.0 {
                return None;
            }
            if distance(x2, y2, x1, y2) > width_m / 2.0 {
                return None;
            }
            Some(distance(x1, y1, x2, y2))
        }
    }
}

/// GEOHASH's 11-character string: the point re-encoded with the standard ranges (latitude
/// -90..90), 10 base-32 characters from the 52 bits plus a final '0'.
pub fn standard_geohash(xy: [f64; 2]) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let long = Range { min: -180.0, max: 180.0 };
    let lat = Range { min: -90.0, max: 90.0 };
    let bits = encode(long, lat, xy[0], xy[1], 26).map(|h| h.bits).unwrap_or(0);
    let mut buf = [b'0'; 11];
    for (i, c) in buf.iter_mut().enumerate().take(10) {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    buf
}

/// Redis's `fixedpoint_d2string(d, 4)`: a distance with exactly four decimals, rounded with
/// `llrint` (to nearest, ties to even) after scaling.
pub fn fmt_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    const TWO63: f64 = (1u64 << 63) as f64;
    let scaled = (d * 10000.0).round_ties_even();
    let svalue = if scaled.is_nan() || !(-TWO63..TWO63).contains(&scaled) {
        i64::MIN // what llrint returns for out-of-range input on x86-64
    } else {
        scaled as i64
    };
    let neg = svalue < 0;
    let value = svalue.unsigned_abs();
    format!("{}{}.{:04}", if neg { "-" } else { "" }, value / 10000, value % 10000)
}

/// A double as C prints it with `%f` (`ERR invalid longitude,latitude pair`).
pub fn fmt_c_f(d: f64) -> String {
    let mut buf = vec![0u8; 400];
    // SAFETY: the buffer is large enough for any double with 6 decimals (at most 317 bytes
    // plus the terminator) and the format takes exactly one double argument.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), c"%f".as_ptr(), d) };
    buf.truncate(n.clamp(0, 399) as usize);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Redis's `addReplyHumanLongDouble` text for a double: `%.17Lf` without trailing zeros.
pub fn fmt_human(d: f64) -> String {
    use crate::longdouble::{format_human, Ld};
    let neg = d.is_sign_negative();
    let v = if d.is_nan() {
        Ld::NaN
    } else if d.is_infinite() {
        Ld::Inf { neg }
    } else if d == 0.0 {
        Ld::Zero { neg }
    } else {
        let bits = d.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if exp_bits == 0 { (frac, -1074) } else { (frac | (1u64 << 52), exp_bits - 1075) };
        Ld::Finite { neg, mant, exp }
    };
    format_human(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_roundtrip() {
        for (x, y) in [(0u32, 0u32), (1, 0), (0, 1), (0x3ffffff, 0x1234567), (u32::MAX, 7)] {
            let i = interleave64(x, y);
            let d = deinterleave64(i);
            assert_eq!((d as u32, (d >> 32) as u32), (x, y));
        }
        assert_eq!(interleave64(1, 0), 1);
        assert_eq!(interleave64(0, 1), 2);
    }

    /// Scores, decoded positions and hashes as Redis 7.0.15 reports them
    /// (`GEOADD k lon lat m`, `ZSCORE`, `GEOPOS`, `GEOHASH`).
    #[test]
    fn vectors_match_redis() {
        let cases: &[(f64, f64, u64, &str, &str, &str)] = &[
            (13.361389, 38.115556, 3479099956230698, "13.36138933897018433", "38.11555639549629859", "sqc8b49rny0"),
            (15.087269, 37.502669, 3479447370796909, "15.08726745843887329", "37.50266842333162032", "sqdtr74hyu0"),
            (-122.27652, 37.805186, 1367952638197536, "-122.27652043104171753", "37.80518485897756165", "9q9p1d0znt0"),
            (0.0, 0.0, 3377699720527872, "0.00000268220901489", "0.00000126736058093", "s0000000000"),
            (-180.0, -85.05112878, 0, "-179.99999731779098511", "-85.05112751263942528", "00bh0hbj200"),
            (180.0, 85.05112878, 13510798882111488, "180", "85.0511287799999991", "bp05b5048p0"),
        ];
        for &(lon, lat, score, plon, plat, gh) in cases {
            let s = score_of(lon, lat);
            assert_eq!(s as u64, score, "score of {lon},{lat}");
            let xy = decode_score(s).unwrap();
            assert_eq!(fmt_human(xy[0]), plon);
            assert_eq!(fmt_human(xy[1]), plat);
            assert_eq!(std::str::from_utf8(&standard_geohash(xy)).unwrap(), gh);
        }
    }

    #[test]
    fn distances_and_formatting() {
        // GEODIST Sicily Palermo Catania = 166274.1516 m in Redis.
        let p = decode_score(3479099956230698.0).unwrap();
        let c = decode_score(3479447370796909.0).unwrap();
        assert_eq!(fmt_distance(distance(p[0], p[1], c[0], c[1])), "166274.1516");
        assert_eq!(fmt_distance(distance(p[0], p[1], c[0], c[1]) / 1000.0), "166.2742");
        assert_eq!(fmt_distance(0.0), "0.0000");
        assert_eq!(fmt_distance(0.00005), "0.0000");
        assert_eq!(fmt_distance(0.00015), "0.0001");
        assert_eq!(fmt_distance(2.5e-4), "0.0002");
        assert_eq!(fmt_distance(3.5e-4), "0.0004");
        assert_eq!(fmt_distance(6.06429515983917e-5), "0.0001");
        assert_eq!(fmt_c_f(200.0), "200.000000");
        assert_eq!(fmt_c_f(f64::INFINITY), "inf");
        assert_eq!(fmt_human(-0.0), "0");
        assert_eq!(fmt_human(1.5), "1.5");
    }

    #[test]
    fn steps_and_neighbors() {
        assert_eq!(estimate_steps_by_radius(0.0, 0.0), 26);
        assert_eq!(estimate_steps_by_radius(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps_by_radius(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps_by_radius(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps_by_radius(1e9, 0.0), 1);
        let h = HashBits { bits: 0b1001, step: 2 };
        let n = neighbors(&h);
        // x (longitude) bits are the odd positions: east adds one to them.
        assert_eq!(n.east.bits, 0b1011);
        assert_eq!(n.west.bits, 0b0011);
        assert_eq!(n.north.bits, 0b1100);
        assert_eq!(n.south.bits, 0b1000);
    }
}
