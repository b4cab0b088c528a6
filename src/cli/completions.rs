//! `trailgraph completions SHELL`: the shell completion script, generated from the clap definitions of this build
//! (so a build with `--features aws` completes `collect`'s subcommands and options).

use super::{Cli, Outcome};
use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Install (bash): trailgraph completions bash > ~/.local/share/bash-completion/completions/trailgraph
Install (zsh):  trailgraph completions zsh > ~/.zfunc/_trailgraph   (with fpath+=~/.zfunc before compinit)
Install (fish): trailgraph completions fish > ~/.config/fish/completions/trailgraph.fish"
)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: &Args) -> Result<Outcome> {
    // Generated into memory first: the generators panic on a failed write, and a closed pipe must exit quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "trailgraph", &mut script);
    let mut out = super::output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Outcome::Ok)
}
