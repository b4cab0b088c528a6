//! `trailgraph man [--out DIR]`: manual pages (roff) generated from the clap definitions: the main page on
//! standard output, or one page per command and subcommand written into a folder (`trailgraph.1`,
//! `trailgraph-ingest.1`, ...). The pages carry no date, so the same build gives the same bytes.

use super::{Cli, Outcome};
use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_mangen::Man;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Install: trailgraph man --out ~/.local/share/man/man1   (then: man trailgraph)"
)]
pub struct Args {
    /// Write one page per command into this folder (created if missing) instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Sections of the main page that clap does not know: exit codes and the environment.
const MAIN_EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success (record\-level diagnostics alone do not change this, unless \fB\-\-strict\fR).
.TP
\fB1\fR
The command ran but found problems: files that failed to ingest; \fBverify\fR: any integrity finding.
.TP
\fB2\fR
Usage and I/O errors: an unknown command or option, a missing input, an unusable database, a name that matches
nothing or several things, a refused or failed SQL statement.
.SH ENVIRONMENT
.TP
\fBTRAILGRAPH_DB\fR
The database file when \fB\-\-db\fR is not given.
.TP
\fBNO_COLOR\fR
When set and not empty, no colour in help and error messages, even with \fBCLICOLOR_FORCE\fR.
.TP
\fBCLICOLOR_FORCE\fR
When set and not \fB0\fR, coloured help and error messages also when the output is not a terminal.
"#;

pub fn run(args: &Args) -> Result<Outcome> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match &args.out {
        None => {
            let mut page = Vec::new();
            render(&cmd, &mut page)?;
            let mut out = super::output::stdout();
            out.write_all(&page)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for path in write_pages(&cmd, dir)? {
                eprintln!(
                    "wrote {}",
                    super::output::sanitize(&path.display().to_string())
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

/// The page's name: the command's path, `trailgraph`, `trailgraph-ingest`, `trailgraph-collect-lake`.
fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// One page per visible command, depth first.
fn write_pages(cmd: &clap::Command, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut page = Vec::new();
    render(cmd, &mut page)?;
    let path = dir.join(format!("{}.1", page_name(cmd)));
    std::fs::write(&path, &page).with_context(|| format!("cannot write {}", path.display()))?;
    let mut written = vec![path];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        written.extend(write_pages(sub, dir)?);
    }
    Ok(written)
}

/// The page of `cmd`, a built command (global options propagated, display names set): clap_mangen's page with
/// the `.TH` title line first (before the string definitions it starts with, which the title does not use), and
/// the sections clap does not know: exit status and environment on the main page, SEE ALSO on the others. No
/// date: the same build gives the same bytes.
fn render(cmd: &clap::Command, w: &mut Vec<u8>) -> Result<()> {
    let mut page = Vec::new();
    Man::new(cmd.clone()).render(&mut page)?;
    let page = String::from_utf8(page).context("man page is not UTF-8")?;
    // Our own title line: clap_mangen leaves an empty date out, which shifts the source and manual into its place.
    let title = format!(
        ".TH {} 1 \"\" \"trailgraph {}\" \"trailgraph manual\"",
        page_name(cmd).to_uppercase(),
        env!("CARGO_PKG_VERSION")
    );
    let mut page = std::iter::once(title.as_str())
        .chain(page.lines().filter(|l| !l.starts_with(".TH ")))
        .collect::<Vec<_>>()
        .join("\n");
    page.push('\n');
    if cmd.get_version().is_some() {
        match page.find("\n.SH VERSION\n") {
            Some(i) => page.insert_str(i + 1, MAIN_EXTRA),
            None => page.push_str(MAIN_EXTRA),
        }
    } else {
        page.push_str(".SH \"SEE ALSO\"\n\\fBtrailgraph\\fR(1)\n");
    }
    w.extend_from_slice(page.as_bytes());
    Ok(())
}
