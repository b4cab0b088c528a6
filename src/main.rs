//! The `trailgraph` binary: thin glue around `trailgraph::cli`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(trailgraph::cli::main());
}
