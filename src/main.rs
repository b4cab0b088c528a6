//! The `trailgraph` binary: thin glue around `trailgraph::cli`.

fn main() {
    std::process::exit(trailgraph::cli::main());
}
