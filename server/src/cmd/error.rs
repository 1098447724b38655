//! Error replies with Redis's exact wording.

use std::borrow::Cow;

/// An error reply; the text includes its code (`ERR`, `WRONGTYPE`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    pub const fn fixed(s: &'static str) -> CmdError {
        CmdError(Cow::Borrowed(s))
    }

    pub fn msg(s: impl Into<String>) -> CmdError {
        CmdError(Cow::Owned(s.into()))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

pub const WRONGTYPE: CmdError = CmdError::fixed("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const NOT_INTEGER: CmdError = CmdError::fixed("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::fixed("ERR value is not a valid float");
pub const SYNTAX: CmdError = CmdError::fixed("ERR syntax error");
pub const NO_SUCH_KEY: CmdError = CmdError::fixed("ERR no such key");
pub const OUT_OF_RANGE: CmdError = CmdError::fixed("ERR index out of range");
pub const OVERFLOW: CmdError = CmdError::fixed("ERR increment or decrement would overflow");
pub const INVALID_DB: CmdError = CmdError::fixed("ERR DB index is out of range");
pub const NOAUTH: CmdError = CmdError::fixed("NOAUTH Authentication required.");
pub const NOT_POSITIVE: CmdError = CmdError::fixed("ERR value is out of range, must be positive");
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";

pub fn wrong_arity(name: &str) -> CmdError {
    CmdError::msg(format!("ERR wrong number of arguments for '{name}' command"))
}

pub fn invalid_expire(cmd: &str) -> CmdError {
    CmdError::msg(INVALID_EXPIRE.replace("{}", cmd))
}
