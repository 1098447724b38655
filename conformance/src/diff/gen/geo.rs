//! The `geo` family: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[BYMEMBER][_RO] and
//! GEOSEARCH[STORE] with WITHDIST/WITHCOORD/WITHHASH, COUNT [ANY], ASC/DESC, STORE/STOREDIST,
//! over the sorted-set keys (a geo set is a sorted set).
//!
//! Every named member has one fixed position, so no two members of a key share coordinates
//! (equal distances would leave the order of ties to `qsort`).

use super::*;

/// Named places: member, longitude, latitude (all distinct).
const PLACES: [(&str, &str, &str); 30] = [
    ("Palermo", "13.361389", "38.115556"),
    ("Catania", "15.087269", "37.502669"),
    ("Agrigento", "13.583333", "37.316667"),
    ("Messina", "15.556", "38.193"),
    ("Siracusa", "15.2866", "37.0755"),
    ("Trapani", "12.5137", "38.0176"),
    ("Ragusa", "14.7303", "36.9269"),
    ("Enna", "14.2794", "37.5676"),
    ("Roma", "12.4964", "41.9028"),
    ("Napoli", "14.2681", "40.8518"),
    ("Milano", "9.19", "45.4642"),
    ("Paris", "2.3522", "48.8566"),
    ("London", "-0.1276", "51.5072"),
    ("Berlin", "13.405", "52.52"),
    ("Madrid", "-3.7038", "40.4168"),
    ("Tunis", "10.1815", "36.8065"),
    ("Valletta", "14.5146", "35.8989"),
    ("Athens", "23.7275", "37.9838"),
    ("NewYork", "-74.006", "40.7128"),
    ("Tokyo", "139.6917", "35.6895"),
    ("Suva", "179.9", "-17.7"),
    ("Apia", "-179.9", "-13.8"),
    ("NearNorth", "0.5", "85.05"),
    ("NearSouth", "-0.5", "-85.05"),
    ("Origin", "0", "0"),
    ("Quito", "-78.4678", "-0.1807"),
    ("Sydney", "151.2093", "-33.8688"),
    ("Reykjavik", "-21.9426", "64.1466"),
    ("CapeTown", "18.4241", "-33.9249"),
    ("Mondello", "13.3275", "38.1964"),
];

/// Positions GEOADD refuses, and non-numbers.
const BAD_POSITIONS: [(&str, &str); 5] = [("181", "0"), ("0", "86"), ("x", "1"), ("-180.1", "0"), ("1", "-85.06")];

const UNITS: [&str; 6] = ["m", "km", "ft", "mi", "KM", "km"];

impl Gen {
    /// Mostly four of the sorted-set keys, so members are often there.
    fn geo_key(&mut self) -> Vec<u8> {
        if self.chance(0.8) {
            ZSET_KEYS[self.int(0, 3) as usize].as_bytes().to_vec()
        } else {
            self.key_in(Pool::ZSet)
        }
    }

    /// Where STORE/GEOSEARCHSTORE write: mostly other keys than the ones queried.
    fn geo_store_key(&mut self) -> Vec<u8> {
        if self.chance(0.8) {
            ZSET_KEYS[self.int(4, 7) as usize].as_bytes().to_vec()
        } else {
            self.geo_key()
        }
    }

    /// The member a query starts from: mostly one that the keys usually hold.
    fn geo_origin(&mut self) -> Vec<u8> {
        if self.chance(0.7) {
            PLACES[self.int(0, 2) as usize].0.into()
        } else {
            self.geo_member()
        }
    }

    /// A member name: a place, sometimes a point of the dense Sicilian cloud, or missing.
    fn geo_member(&mut self) -> Vec<u8> {
        match self.int(0, 19) {
            0..=9 => PLACES[self.int(0, 4) as usize].0.into(),
            10..=12 => self.pick(&PLACES).0.into(),
            13..=15 => format!("p{}", self.int(0, 9)).into_bytes(),
            16..=17 => format!("p{}", self.int(0, 39)).into_bytes(),
            _ => self.pick(&["nosuch", "", "a"]).into(),
        }
    }

    /// The fixed position of a cloud point `p<i>` (derived from `i`, so stable across a run).
    fn cloud_position(i: i64) -> (String, String) {
        let lon = 12.4 + ((i * 7919) % 3600) as f64 / 1000.0;
        let lat = 36.6 + ((i * 104_729) % 1700) as f64 / 1000.0 + i as f64 * 1e-6;
        (format!("{lon:.6}"), format!("{lat:.6}"))
    }

    fn geo_triple(&mut self) -> [Vec<u8>; 3] {
        match self.int(0, 19) {
            0..=12 => {
                let (m, lon, lat) = if self.chance(0.6) { PLACES[self.int(0, 4) as usize] } else { self.pick(&PLACES) };
                [lon.into(), lat.into(), m.into()]
            }
            13..=18 => {
                let i = if self.chance(0.6) { self.int(0, 9) } else { self.int(0, 39) };
                let (lon, lat) = Self::cloud_position(i);
                [lon.into_bytes(), lat.into_bytes(), format!("p{i}").into_bytes()]
            }
            _ => {
                let (lon, lat) = self.pick(&BAD_POSITIONS);
                [lon.into(), lat.into(), b"bad".to_vec()]
            }
        }
    }

    fn geo_center(&mut self) -> [Vec<u8>; 2] {
        match self.int(0, 9) {
            0..=4 => {
                let (_, lon, lat) = self.pick(&PLACES);
                [lon.into(), lat.into()]
            }
            5..=8 => {
                let (lon, lat) = Self::cloud_position(self.int(100, 10_000));
                [lon.into_bytes(), lat.into_bytes()]
            }
            _ => {
                let (lon, lat) = self.pick(&BAD_POSITIONS);
                [lon.into(), lat.into()]
            }
        }
    }

    fn geo_radius(&mut self) -> [Vec<u8>; 2] {
        let r = match self.int(0, 19) {
            0..=15 => {
                self.pick(&["1", "10", "50", "100", "150", "200", "300", "500", "1000", "5000", "0", "20000", "0.5"])
            }
            _ => self.pick(&["-1", "x", "inf", ""]),
        };
        let unit = if self.chance(0.95) { self.pick(&UNITS) } else { self.pick(&["lightyear", ""]) };
        // Metres and feet want bigger numbers to find anything.
        let r = match unit {
            "m" | "ft" if r.parse::<f64>().is_ok_and(|x| x > 0.0) => format!("{}000", r),
            _ => r.to_string(),
        };
        [r.into_bytes(), unit.into()]
    }

    /// The options of a radius/search query, in random order; returns whether a WITH* option is
    /// present.
    fn geo_query_opts(&mut self, a: &mut Vec<Vec<u8>>, search: bool) -> bool {
        let mut opts: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut with = false;
        for w in ["WITHCOORD", "WITHDIST", "WITHHASH"] {
            if self.chance(0.35) {
                opts.push(cmd![w]);
                with = true;
            }
        }
        if self.chance(0.4) {
            let n =
                if self.chance(0.9) { self.pick(&["1", "2", "3", "5", "100"]) } else { self.pick(&["0", "-1", "x"]) };
            let mut c = cmd!["COUNT", n];
            if self.chance(0.3) {
                c.push(b"ANY".to_vec());
            }
            opts.push(c);
        } else if self.chance(0.03) {
            opts.push(cmd!["ANY"]);
        }
        if self.chance(0.5) {
            opts.push(cmd![self.pick(&["ASC", "DESC", "asc"])]);
        }
        if self.chance(0.02) {
            opts.push(cmd![self.pick(&["FOO", "COUNT"])]);
        }
        if !search && self.chance(0.02) {
            opts.push(cmd!["BYBOX"]);
        }
        while !opts.is_empty() {
            let i = self.rng.random_range(0..opts.len());
            a.extend(opts.swap_remove(i));
        }
        with
    }

    fn geo_from_by(&mut self, a: &mut Vec<Vec<u8>>) {
        match self.weighted(&[5, 5, 1]) {
            0 => a.extend(cmd!["FROMMEMBER", self.geo_origin()]),
            1 => {
                let [lon, lat] = self.geo_center();
                a.extend(cmd!["FROMLONLAT", lon, lat]);
            }
            _ => {
                if self.chance(0.5) {
                    a.extend(cmd!["FROMMEMBER", self.geo_member()]);
                    let [lon, lat] = self.geo_center();
                    a.extend(cmd!["FROMLONLAT", lon, lat]);
                }
            }
        }
        match self.weighted(&[5, 5, 1]) {
            0 => {
                let [r, u] = self.geo_radius();
                a.extend(cmd!["BYRADIUS", r, u]);
            }
            1 => {
                let [w, u] = self.geo_radius();
                let [h, _] = self.geo_radius();
                a.extend(cmd!["BYBOX", w, h, u]);
            }
            _ => {
                if self.chance(0.5) {
                    let [r, u] = self.geo_radius();
                    a.extend(cmd!["BYRADIUS", r, u.clone(), "BYBOX", "10", "10", u]);
                }
            }
        }
    }

    pub(super) fn geo(&mut self) -> (Vec<Vec<u8>>, Check) {
        let k = self.geo_key();
        let w = [12, 4, 3, 4, 8, 6, 8, 3, 3, 1, 1, 1];
        let args = match self.weighted(&w) {
            0 => {
                let mut a = cmd!["GEOADD", k];
                if self.chance(0.2) {
                    a.push(self.pick(&["NX", "XX", "nx"]).into());
                }
                if self.chance(0.15) {
                    a.push(b"CH".to_vec());
                }
                if self.chance(0.03) {
                    a.extend(cmd!["NX", "XX"]);
                }
                let n = if self.chance(0.04) { self.int(130, 140) } else { self.int(1, 4) };
                if n > 100 {
                    // A big set (skiplist encoding) from the cloud.
                    for i in 0..n {
                        let (lon, lat) = Self::cloud_position(1000 + i);
                        a.extend(cmd![lon, lat, format!("c{i}")]);
                    }
                } else {
                    for _ in 0..n {
                        a.extend(self.geo_triple());
                    }
                }
                if self.chance(0.03) {
                    a.pop();
                }
                a
            }
            1 => {
                let mut a = cmd!["GEODIST", k, self.geo_member(), self.geo_member()];
                if self.chance(0.7) {
                    a.push(if self.chance(0.95) { self.pick(&UNITS) } else { "parsec" }.into());
                }
                a
            }
            2 => {
                let mut a = cmd!["GEOHASH", k];
                a.extend((0..self.int(0, 3)).map(|_| self.geo_member()));
                a
            }
            3 => {
                let mut a = cmd!["GEOPOS", k];
                a.extend((0..self.int(0, 3)).map(|_| self.geo_member()));
                a
            }
            4 | 5 => {
                let by_member = self.chance(0.5);
                let ro = self.chance(0.3);
                let name = match (by_member, ro) {
                    (false, false) => "GEORADIUS",
                    (false, true) => "GEORADIUS_RO",
                    (true, false) => "GEORADIUSBYMEMBER",
                    (true, true) => "GEORADIUSBYMEMBER_RO",
                };
                let mut a = cmd![name, k];
                if by_member {
                    a.push(self.geo_origin());
                } else {
                    a.extend(self.geo_center());
                }
                a.extend(self.geo_radius());
                let with = self.geo_query_opts(&mut a, false);
                // STORE/STOREDIST: without WITH* options mostly (else an error), and sometimes on
                // the _RO variants (a syntax error).
                if (!ro || self.chance(0.1)) && self.chance(if with { 0.08 } else { 0.35 }) {
                    a.extend(cmd![self.pick(&["STORE", "STOREDIST"]), self.geo_store_key()]);
                }
                a
            }
            6 => {
                let mut a = cmd!["GEOSEARCH", k];
                self.geo_from_by(&mut a);
                self.geo_query_opts(&mut a, true);
                a
            }
            7 => {
                let mut a = cmd!["GEOSEARCHSTORE", self.geo_store_key(), k];
                self.geo_from_by(&mut a);
                let mut opts = Vec::new();
                self.geo_query_opts(&mut opts, true);
                // WITH* options are refused by GEOSEARCHSTORE: keep them rare.
                if self.chance(0.85) {
                    opts.retain(|o| !o.starts_with(b"WITH"));
                }
                a.extend(opts);
                if self.chance(0.4) {
                    a.push(b"STOREDIST".to_vec());
                }
                a
            }
            8 => cmd!["ZRANGE", k, "0", "-1", "WITHSCORES"],
            9 => cmd!["ZCARD", k],
            10 => cmd!["ZREM", k, self.geo_member()],
            _ => cmd!["TYPE", k],
        };
        (args, Check::Exact)
    }
}
