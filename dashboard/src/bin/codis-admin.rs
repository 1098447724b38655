//! codis-admin: every verb of Go's, same flags and output.
fn main() {
    std::process::exit(dashboard::admin::main(std::env::args().skip(1).collect()));
}
