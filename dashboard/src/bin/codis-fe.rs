//! codis-fe: the dashboard list, the reverse proxy to dashboards, and a small web UI.
fn main() {
    std::process::exit(dashboard::fe::main(std::env::args().skip(1).collect()));
}
