//! GEO commands (Redis 7.0 semantics): points are members of a sorted set whose score is the
//! 52-bit interleaved geohash of their position, so every zset command works on them too.
//! The geohash arithmetic lives in `geo_hash.rs`, Redis's partial quicksort in `crate::pqsort`.

#[path = "geo_hash.rs"]
pub mod hash;

use bytes::Bytes;

use super::error::{self, CmdError};
use super::flags::*;
use super::zset::{parse_score, store_zset, zread_pos, zset_in};
use super::{CmdResult, CommandSpec, CommandTable, Ctx, Reply};
use crate::db::zset::{ScoreRange, ZSetValue};
use crate::sds::Sds;
use hash::{Shape, ShapeKind};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, (1, 1, 1), geoadd),
    CommandSpec::new("geodist", -4, READONLY, (1, 1, 1), geodist),
    CommandSpec::new("geohash", -2, READONLY, (1, 1, 1), geohash),
    CommandSpec::new("geopos", -2, READONLY, (1, 1, 1), geopos),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, (1, 1, 1), georadius),
    CommandSpec::new("georadius_ro", -6, READONLY, (1, 1, 1), georadius_ro),
    CommandSpec::new("georadiusbymember", -5, WRITE | DENYOOM, (1, 1, 1), georadiusbymember),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, (1, 1, 1), georadiusbymember_ro),
    CommandSpec::new("geosearch", -7, READONLY, (1, 1, 1), geosearch),
    CommandSpec::new("geosearchstore", -8, WRITE | DENYOOM, (1, 2, 1), geosearchstore),
];

const DECODE_ERR: CmdError = CmdError::fixed("ERR could not decode requested zset member");
const UNIT_ERR: CmdError = CmdError::fixed("ERR unsupported unit provided. please use M, KM, FT, MI");

/// One point found by a search (`geoPoint`).
pub struct GeoPoint {
    pub longitude: f64,
    pub latitude: f64,
    /// Meters until the reply converts it to the requested unit.
    pub dist: f64,
    pub score: f64,
    pub member: Sds,
}

// ---------------------------------------------------------------------------------------------
// Argument helpers.

/// A double argument as `getDoubleFromObjectOrReply` reads it.
fn arg_double(arg: &[u8], err: CmdError) -> Result<f64, CmdError> {
    parse_score(arg).ok_or(err)
}

/// `extractLongLatOrReply`: longitude and latitude from two arguments, range-checked.
fn extract_long_lat(args: &[Bytes]) -> Result<[f64; 2], CmdError> {
    let x = arg_double(&args[0], error::NOT_FLOAT)?;
    let y = arg_double(&args[1], error::NOT_FLOAT)?;
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&x) || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&y) {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {},{}",
            hash::fmt_c_f(x),
            hash::fmt_c_f(y)
        )));
    }
    Ok([x, y])
}

/// `extractUnitOrReply`: meters per unit.
fn extract_unit(arg: &[u8]) -> Result<f64, CmdError> {
    if arg.eq_ignore_ascii_case(b"m") {
        Ok(1.0)
    } else if arg.eq_ignore_ascii_case(b"km") {
        Ok(1000.0)
    } else if arg.eq_ignore_ascii_case(b"ft") {
        Ok(0.3048)
    } else if arg.eq_ignore_ascii_case(b"mi") {
        Ok(1609.34)
    } else {
        Err(UNIT_ERR)
    }
}

/// `extractDistanceOrReply`: `<radius> <unit>` → (radius, meters per unit).
fn extract_distance(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let d = arg_double(&args[0], CmdError::fixed("ERR need numeric radius"))?;
    if d < 0.0 {
        return Err(CmdError::fixed("ERR radius cannot be negative"));
    }
    Ok((d, extract_unit(&args[1])?))
}

/// `extractBoxOrReply`: `<width> <height> <unit>` → (width, height, meters per unit).
fn extract_box(args: &[Bytes]) -> Result<(f64, f64, f64), CmdError> {
    let w = arg_double(&args[0], CmdError::fixed("ERR need numeric width"))?;
    let h = arg_double(&args[1], CmdError::fixed("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::fixed("ERR height or width cannot be negative"));
    }
    Ok((w, h, extract_unit(&args[2])?))
}

/// The position of a member (`longLatFromMember`).
fn member_position(z: &ZSetValue, member: &[u8]) -> Option<[f64; 2]> {
    z.score(member).and_then(hash::decode_score)
}

// ---------------------------------------------------------------------------------------------
// Replies.

/// `addReplyDoubleDistance`: four decimals, as a bulk string in both protocols.
fn reply_distance(out: &mut Reply, d: f64) {
    out.bulk(hash::fmt_distance(d).as_bytes());
}

/// `addReplyHumanLongDouble`: a bulk string in RESP2, a double in RESP3.
fn reply_human(out: &mut Reply, d: f64) {
    let s = hash::fmt_human(d);
    if out.resp3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// GEOADD, GEODIST, GEOHASH, GEOPOS.

/// GEOADD key [NX|XX] [CH] lon lat member [...]: rewritten into ZADD, as Redis does.
fn geoadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut xx, mut nx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let opt = &args[longidx][..];
        if opt.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if !opt.eq_ignore_ascii_case(b"ch") {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(error::SYNTAX);
    }
    let elements = (args.len() - longidx) / 3;
    let mut zargs: Vec<Bytes> = Vec::with_capacity(longidx + elements * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend(args[1..longidx].iter().cloned());
    let mut buf = itoa::Buffer::new();
    for i in 0..elements {
        let at = longidx + i * 3;
        let xy = extract_long_lat(&args[at..at + 2])?;
        let score = hash::score_of(xy[0], xy[1]) as u64;
        zargs.push(Bytes::copy_from_slice(buf.format(score).as_bytes()));
        zargs.push(args[at + 2].clone());
    }
    let table = CommandTable::get();
    let spec = table.lookup(b"zadd").map(|i| table.specs[i]).ok_or(error::SYNTAX)?;
    let mut zctx = Ctx {
        state: &mut *ctx.state,
        client: &mut *ctx.client,
        args: &zargs,
        out: &mut *ctx.out,
        now_ms: ctx.now_ms,
        spec,
    };
    (spec.handler)(&mut zctx)
}

/// GEODIST key member1 member2 [unit]
fn geodist(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut to_meter = 1.0;
    if args.len() == 5 {
        to_meter = extract_unit(&args[4])?;
    } else if args.len() > 5 {
        return Err(error::SYNTAX);
    }
    let Some(at) = zread_pos(ctx, &args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let z = zset_in(ctx.db_ref(), at);
    let (Some(s1), Some(s2)) = (z.score(&args[2]), z.score(&args[3])) else {
        ctx.out.null();
        return Ok(());
    };
    match (hash::decode_score(s1), hash::decode_score(s2)) {
        (Some(a), Some(b)) => reply_distance(ctx.out, hash::distance(a[0], a[1], b[0], b[1]) / to_meter),
        _ => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key member [...]
fn geohash(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let at = zread_pos(ctx, &args[1])?;
    let Ctx { state, client, out, .. } = ctx;
    let z = at.map(|at| zset_in(&state.dbs[client.db], at));
    out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| member_position(z, m)) {
            Some(xy) => out.bulk(&hash::standard_geohash(xy)),
            None => out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key member [...]
fn geopos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let at = zread_pos(ctx, &args[1])?;
    let Ctx { state, client, out, .. } = ctx;
    let z = at.map(|at| zset_in(&state.dbs[client.db], at));
    out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| member_position(z, m)) {
            Some(xy) => {
                out.array(2);
                reply_human(out, xy[0]);
                reply_human(out, xy[1]);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE and the read-only variants.

const RADIUS_COORDS: u32 = 1 << 0;
const RADIUS_MEMBER: u32 = 1 << 1;
const RADIUS_NOSTORE: u32 = 1 << 2;
const GEOSEARCH: u32 = 1 << 3;
const GEOSEARCHSTORE: u32 = 1 << 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

fn georadius(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 1, RADIUS_COORDS)
}

fn georadiusbymember(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 1, RADIUS_MEMBER)
}

fn georadius_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 1, RADIUS_COORDS | RADIUS_NOSTORE)
}

fn georadiusbymember_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 1, RADIUS_MEMBER | RADIUS_NOSTORE)
}

fn geosearch(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 1, GEOSEARCH)
}

fn geosearchstore(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, 2, GEOSEARCH | GEOSEARCHSTORE)
}

/// Redis's `georadiusGeneric`: parses the variant's arguments in Redis's order (so the same
/// error wins), collects the points of the covering boxes, sorts and replies or stores.
fn search_generic(ctx: &mut Ctx, src_idx: usize, flags: u32) -> CmdResult {
    let args = ctx.args;
    let at = zread_pos(ctx, &args[src_idx])?;
    let db = ctx.client.db;
    let zobj = at.map(|at| zset_in(&ctx.state.dbs[db], at));

    let mut storekey: Option<&Bytes> = None;
    let mut storedist = false;
    let mut shape = Shape { xy: [0.0, 0.0], conversion: 0.0, kind: ShapeKind::Radius(0.0) };
    let base_args;
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        shape.xy = extract_long_lat(&args[2..4])?;
        let (r, conv) = extract_distance(&args[4..6])?;
        shape.kind = ShapeKind::Radius(r);
        shape.conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        if let Some(z) = zobj {
            shape.xy = member_position(z, &args[2]).ok_or(DECODE_ERR)?;
            let (r, conv) = extract_distance(&args[3..5])?;
            shape.kind = ShapeKind::Radius(r);
            shape.conversion = conv;
        }
    } else {
        base_args = if flags & GEOSEARCHSTORE != 0 { 3 } else { 2 };
        if flags & GEOSEARCHSTORE != 0 {
            storekey = Some(&args[1]);
        }
    }

    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = args.len().saturating_sub(base_args);
    let is = |i: usize, w: &str| args[base_args + i].eq_ignore_ascii_case(w.as_bytes());
    let mut i = 0;
    while i < remaining {
        let search = flags & GEOSEARCH != 0;
        let may_store = flags & RADIUS_NOSTORE == 0 && !search;
        if is(i, "withdist") {
            withdist = true;
        } else if is(i, "withhash") {
            withhash = true;
        } else if is(i, "withcoord") {
            withcoords = true;
        } else if is(i, "any") {
            any = true;
        } else if is(i, "asc") {
            sort = Sort::Asc;
        } else if is(i, "desc") {
            sort = Sort::Desc;
        } else if is(i, "count") && i + 1 < remaining {
            count = crate::util::parse_i64(&args[base_args + i + 1]).ok_or(error::NOT_INTEGER)?;
            if count <= 0 {
                return Err(CmdError::fixed("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if is(i, "store") && i + 1 < remaining && may_store {
            storekey = Some(&args[base_args + i + 1]);
            storedist = false;
            i += 1;
        } else if is(i, "storedist") && i + 1 < remaining && may_store {
            storekey = Some(&args[base_args + i + 1]);
            storedist = true;
            i += 1;
        } else if is(i, "storedist") && search && flags & GEOSEARCHSTORE != 0 {
            storedist = true;
        } else if is(i, "frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(z) = zobj {
                shape.xy = member_position(z, &args[base_args + i + 1]).ok_or(DECODE_ERR)?;
            }
            frommember = true;
            i += 1;
        } else if is(i, "fromlonlat") && i + 2 < remaining && search && !frommember {
            let at = base_args + i + 1;
            shape.xy = extract_long_lat(&args[at..at + 2])?;
            fromloc = true;
            i += 2;
        } else if is(i, "byradius") && i + 2 < remaining && search && !bybox {
            let at = base_args + i + 1;
            let (r, conv) = extract_distance(&args[at..at + 2])?;
            shape.kind = ShapeKind::Radius(r);
            shape.conversion = conv;
            byradius = true;
            i += 2;
        } else if is(i, "bybox") && i + 3 < remaining && search && !byradius {
            let at = base_args + i + 1;
            let (w, h, conv) = extract_box(&args[at..at + 3])?;
            shape.kind = ShapeKind::Box { width: w, height: h };
            shape.conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }

    if storekey.is_some() && (withdist || withhash || withcoords) {
        let what = if flags & GEOSEARCHSTORE != 0 { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(&args[0]).into_owned();
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        return Err(CmdError::msg(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", name())));
    }
    if any && count == 0 {
        return Err(CmdError::fixed("ERR the ANY argument requires COUNT argument"));
    }

    let Some(z) = zobj else {
        match storekey {
            Some(dst) => {
                if ctx.delete_key(dst) {
                    ctx.notify('g', "del", dst);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };

    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let limit = if any { count as usize } else { 0 };
    let mut points = points_in_shape(z, &shape, limit);

    if points.is_empty() && storekey.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let result_length = points.len();
    let returned = if count == 0 || (result_length as i64) < count { result_length } else { count as usize };
    if sort != Sort::None {
        let asc = |a: &GeoPoint, b: &GeoPoint| -> i32 {
            if a.dist > b.dist {
                1
            } else if a.dist == b.dist {
                0
            } else {
                -1
            }
        };
        let desc = sort == Sort::Desc;
        if returned == result_length {
            // glibc's qsort is a stable merge sort for these sizes.
            points.sort_by(|a, b| {
                let c = if desc { asc(b, a) } else { asc(a, b) };
                c.cmp(&0)
            });
        } else if desc {
            crate::pqsort::pqsort(&mut points, &|a, b| -asc(a, b), 0, returned - 1);
        } else {
            crate::pqsort::pqsort(&mut points, &asc, 0, returned - 1);
        }
    }
    points.truncate(returned);

    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            let out = &mut *ctx.out;
            out.array(returned);
            for gp in &points {
                let dist = gp.dist / shape.conversion;
                if options > 0 {
                    out.array(options + 1);
                }
                out.bulk(&gp.member);
                if withdist {
                    reply_distance(out, dist);
                }
                if withhash {
                    out.int(gp.score as i64);
                }
                if withcoords {
                    out.array(2);
                    reply_human(out, gp.longitude);
                    reply_human(out, gp.latitude);
                }
            }
        }
        Some(dst) => {
            let items: Vec<(Sds, f64)> = points
                .into_iter()
                .map(|gp| {
                    let score = if storedist { gp.dist / shape.conversion } else { gp.score };
                    (gp.member, score)
                })
                .collect();
            let event = if flags & GEOSEARCH != 0 { "geosearchstore" } else { "georadiusstore" };
            store_zset(ctx, dst, items, event);
            if returned > 1 {
                // Redis counts one change per stored element.
                ctx.state.dirty += returned as u64 - 1;
            }
        }
    }
    Ok(())
}

/// The points of the nine boxes covering `shape` that lie inside it, in Redis's visiting
/// order (`membersOfAllNeighbors`). With `limit` (COUNT ANY) the search stops once that many
/// were found.
fn points_in_shape(z: &ZSetValue, shape: &Shape, limit: usize) -> Vec<GeoPoint> {
    let areas = hash::areas_by_shape(shape);
    let boxes = areas.boxes();
    let mut points = Vec::new();
    let mut last_processed = 0;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        // Huge radiuses can make adjacent neighbours equal: skip a repeat of the last box.
        if last_processed != 0 && *b == boxes[last_processed] {
            continue;
        }
        if !points.is_empty() && limit > 0 && points.len() >= limit {
            break;
        }
        let (min, max) = hash::scores_of_box(*b);
        points_in_range(z, min as f64, max as f64, shape, &mut points, limit);
        last_processed = i;
    }
    points
}

/// Appends the points with `min <= score < max` that lie inside the shape
/// (`geoGetPointsInRange`).
fn points_in_range(z: &ZSetValue, min: f64, max: f64, shape: &Shape, points: &mut Vec<GeoPoint>, limit: usize) {
    let range = ScoreRange { min, max, minex: false, maxex: true };
    let Some(first) = z.first_in_score(&range) else { return };
    for (member, score) in z.iter_at(first, false) {
        if !range.lte_max(score) {
            break;
        }
        if let Some(xy) = hash::decode_score(score) {
            if let Some(dist) = hash::within_shape(shape, xy) {
                points.push(GeoPoint { longitude: xy[0], latitude: xy[1], dist, score, member: Sds::new(member) });
            }
        }
        if !points.is_empty() && limit > 0 && points.len() >= limit {
            break;
        }
    }
}
