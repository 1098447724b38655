//! `--version` and the `version`/`compile` of `/topom` (Go prints its build stamp there).

/// Our release, in the layout of Go's `utils.Version` (`<date> @<commit>`).
pub const VERSION: &str = concat!("rcodis-", env!("CARGO_PKG_VERSION"));

/// `<build> by <toolchain>`, as Go's `utils.Compile`.
pub fn compile() -> String {
    format!("rust build by rustc (target {}-{})", std::env::consts::ARCH, std::env::consts::OS)
}
