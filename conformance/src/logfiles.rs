//! Reading the daily log files our binaries write with `--log=FILE` (Go's `FILE.YYYY-MM-DD`).

use std::path::Path;

/// A new log line (not the continuation of a multi-line message, e.g. the config Go logs too):
/// starts with a date.
pub fn starts_like_a_line(l: &str) -> bool {
    l.len() > 10
        && l.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && (l.as_bytes()[4] == b'/' || l.as_bytes()[4] == b'-')
}

/// A line in Go's layout written by one of our sources.
pub fn is_go_line(l: &str) -> bool {
    compat::golog::parse_line(l).is_some_and(|g| g.file.ends_with(".rs"))
}

/// (sorted names of the files in `dir` starting with `base`, their text concatenated).
pub fn read_logs(dir: &Path, base: &str) -> (Vec<String>, String) {
    let (mut names, mut text) = (Vec::new(), String::new());
    for e in std::fs::read_dir(dir).expect("log dir exists").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(base) {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            names.push(name);
        }
    }
    names.sort();
    (names, text)
}
