//! Command lines in docopt's style, as the Go binaries accept them: `--opt=VALUE` or
//! `--opt VALUE`, short aliases (`-x ADDR`), flags and bare words. Which combinations are valid
//! is checked by each binary; a wrong line prints the usage text and exits 1, as docopt does.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone)]
pub struct Args {
    opts: BTreeMap<String, String>,
    flags: BTreeSet<String>,
    words: Vec<String>,
}

/// The options of one binary: which take a value, which are flags, and short aliases.
pub struct Spec<'a> {
    pub values: &'a [&'a str],
    pub flags: &'a [&'a str],
    pub words: &'a [&'a str],
    pub aliases: &'a [(&'a str, &'a str)],
}

impl Args {
    pub fn parse<I: IntoIterator<Item = String>>(argv: I, spec: &Spec) -> Result<Args, String> {
        let mut a = Args::default();
        let mut it = argv.into_iter().peekable();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                a.flags.insert("--help".into());
                continue;
            }
            if arg.starts_with('-') && arg.len() > 1 {
                let (name, inline) = match arg.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (arg.clone(), None),
                };
                let name = spec.aliases.iter().find(|(s, _)| *s == name).map(|(_, l)| l.to_string()).unwrap_or(name);
                if spec.values.contains(&name.as_str()) {
                    let v = match inline {
                        Some(v) => v,
                        None => it.next().ok_or_else(|| format!("{name} requires argument"))?,
                    };
                    a.opts.insert(name, v);
                } else if spec.flags.contains(&name.as_str()) && inline.is_none() {
                    a.flags.insert(name);
                } else {
                    return Err(format!("unknown option {arg}"));
                }
            } else if spec.words.contains(&arg.as_str()) {
                a.words.push(arg);
            } else {
                return Err(format!("unexpected argument {arg}"));
            }
        }
        Ok(a)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.opts.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.opts.contains_key(name) || self.flags.contains(name) || self.words.iter().any(|w| w == name)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(name)
    }

    pub fn word(&self, name: &str) -> bool {
        self.words.iter().any(|w| w == name)
    }

    /// Go's `utils.ArgumentInteger`: the value as a number, `Err` with Go's panic text if not.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| format!("parse argument {name} failed")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.opts.is_empty() && self.flags.is_empty() && self.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        values: &["--dashboard", "--gid", "--addr"],
        flags: &["--create-group", "-v", "-1"],
        words: &["config"],
        aliases: &[("-g", "--gid"), ("-x", "--addr")],
    };

    fn p(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(String::from), &SPEC)
    }

    #[test]
    fn forms() {
        let a = p("--dashboard=127.0.0.1:18080 --create-group -g 3").unwrap();
        assert_eq!(a.get("--dashboard"), Some("127.0.0.1:18080"));
        assert_eq!(a.int("--gid").unwrap(), Some(3));
        assert!(a.flag("--create-group"));
        let a = p("--dashboard 1:2 config -v -1 -x=1:3").unwrap();
        assert!(a.word("config") && a.flag("-v") && a.flag("-1"));
        assert_eq!(a.get("--addr"), Some("1:3"));
        assert!(p("--nope").is_err());
        assert!(p("--gid").is_err());
        assert!(p("--dashboard=x --gid=abc").unwrap().int("--gid").is_err());
    }
}
