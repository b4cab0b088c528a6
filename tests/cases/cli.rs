//! What people expect of a command-line tool: shell completions and man pages generated from the clap definitions
//! (`trailgraph completions`, `trailgraph man`), and no colour under `NO_COLOR`. Runs the real binary.
//! `bash` is on every machine of this kind; man-db's `man`, when present, renders every page (an optional check:
//! it is not on a fresh machine, and nothing installs it).

use assert_cmd::Command;
use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::Path;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn trailgraph(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::cargo_bin("trailgraph").expect("binary");
    c.args(args)
        .env_remove("TRAILGRAPH_DB")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run trailgraph");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The visible subcommands of this build, as the user types them.
fn subcommands() -> Vec<String> {
    trailgraph::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let subs = subcommands();
    assert!(subs.iter().any(|s| s == "who-changed"), "{subs:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = trailgraph(&["completions", shell], &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.len() > 1000, "{shell}: {}", r.stdout);
        for sub in &subs {
            assert!(r.stdout.contains(sub.as_str()), "{shell} lacks {sub}");
        }
        // Options are completed too, and their values where the shell's generator does.
        assert!(
            r.stdout.contains("--format") || r.stdout.contains("-l format"),
            "{shell}"
        );
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(r.stdout.contains("openlineage"), "{shell}");
        }
        assert!(!r.stdout.contains('\u{1b}'), "{shell}: no escape");
    }
    let r = trailgraph(&["completions", "tcsh"], &[]);
    assert_eq!(r.code, 2, "an unknown shell is a usage error");
    assert!(r.stderr.contains("possible values"), "{}", r.stderr);
}

#[test]
fn bash_completion_parses_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("trailgraph.bash");
    let r = trailgraph(&["completions", "bash"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(&script, &r.stdout).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sourced, the completion function completes a subcommand and an option's values.
    let probe = r#"
source "$1"
COMP_WORDS=(trailgraph who); COMP_CWORD=1; COMP_LINE="trailgraph who"; COMP_POINT=${#COMP_LINE}
_trailgraph trailgraph who trailgraph
echo "sub: ${COMPREPLY[*]}"
COMP_WORDS=(trailgraph export --format ""); COMP_CWORD=3; COMP_LINE="trailgraph export --format "; COMP_POINT=${#COMP_LINE}
_trailgraph trailgraph "" --format
echo "format: ${COMPREPLY[*]}"
"#;
    let out = std::process::Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(&script)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sub: who-changed\n"), "{stdout}");
    assert!(
        stdout.contains("format: json dot graphml openlineage\n"),
        "{stdout}"
    );
}

#[test]
fn man_prints_the_main_page() {
    let r = trailgraph(&["man"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = &r.stdout;
    let first = page.lines().next().unwrap_or("");
    assert!(
        first.starts_with(".TH TRAILGRAPH 1 \"\" \"trailgraph "),
        "{first}"
    );
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
    ] {
        assert!(page.contains(section), "{section} missing:\n{page}");
    }
    // Each subcommand is listed with its page; roff writes a hyphen as `\-`.
    for sub in subcommands() {
        let entry = format!("trailgraph\\-{}(1)", sub.replace('-', "\\-"));
        assert!(page.contains(&entry), "{entry} missing");
    }
    assert!(page.contains("\\fBNO_COLOR\\fR"));
    // Same build, same bytes (no date in the page).
    assert_eq!(trailgraph(&["man"], &[]).stdout, *page);
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let r = trailgraph(&["man", "--out", out.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // One page per visible command at every depth (`collect`'s subcommands in a build with `aws`).
    fn expected(cmd: &clap::Command, name: &str, into: &mut BTreeSet<String>) {
        into.insert(format!("{name}.1"));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() != "help" {
                expected(sub, &format!("{name}-{}", sub.get_name()), into);
            }
        }
    }
    let mut want = BTreeSet::new();
    expected(&trailgraph::cli::Cli::command(), "trailgraph", &mut want);
    assert_eq!(files, want);
    assert!(files.contains("trailgraph-who-changed.1"));
    assert!(files.contains("trailgraph-ingest.1"));
    for f in &files {
        let page = std::fs::read_to_string(out.join(f)).unwrap();
        let title = f.trim_end_matches(".1").to_uppercase();
        assert!(
            page.starts_with(&format!(".TH {title} 1 ")),
            "{f}: {}",
            page.lines().next().unwrap_or("")
        );
        assert!(page.contains(".SH SYNOPSIS"), "{f}");
        if f != "trailgraph.1" {
            assert!(
                page.contains(".SH \"SEE ALSO\"\n\\fBtrailgraph\\fR(1)"),
                "{f}"
            );
        }
    }
    let who = std::fs::read_to_string(out.join("trailgraph-who-changed.1")).unwrap();
    assert!(who.contains("\\fBtrailgraph who\\-changed\\fR"), "{who}");
    assert!(who.contains("\\fB\\-\\-since\\fR"), "{who}");
    render_with_man(&out, &files);

    // A folder that cannot be made is an I/O error: exit 2.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let r = trailgraph(&["man", "--out", file.join("sub").to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot create"), "{}", r.stderr);
}

/// man-db's `man -l` renders every page without a warning, when it is installed (optional: not on a fresh
/// machine, not installed by .ci/run).
fn render_with_man(dir: &Path, files: &BTreeSet<String>) {
    let present = std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: man (man-db) is not installed: the pages were not rendered (optional check)"
        );
        return;
    }
    for f in files {
        let out = std::process::Command::new("man")
            .arg("-l")
            .arg(dir.join(f))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("run man");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "man -l {f}: {stderr}");
        assert!(stderr.trim().is_empty(), "man -l {f}: {stderr}");
        let text = String::from_utf8_lossy(&out.stdout);
        let name = f.trim_end_matches(".1");
        assert!(text.contains("NAME"), "{f}: {text}");
        assert!(text.contains(name), "{f}: {text}");
    }
}

/// NO_COLOR (no-color.org) wins over CLICOLOR_FORCE: clap's help and errors are the only coloured output (through
/// anstream), and trailgraph writes no colour of its own.
#[test]
fn no_color_means_no_escape_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let cases: [&[&str]; 5] = [
        &["--help"],
        &["who-changed", "--help"],
        &["--bogus"],
        &["who-changed"],
        &["--db", missing.to_str().unwrap(), "stats"],
    ];
    // Forced colour is seen at all (so the check below can fail): clap colours help and usage errors.
    let forced = trailgraph(&["--bogus"], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(forced.code, 2);
    assert!(
        forced.stderr.contains('\u{1b}'),
        "CLICOLOR_FORCE=1 colours clap's errors: {:?}",
        forced.stderr
    );
    let forced = trailgraph(&["--help"], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.stdout.contains('\u{1b}'), "{:?}", forced.stdout);

    for args in cases {
        for env in [
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")][..],
            &[("NO_COLOR", "1")][..],
            &[][..],
        ] {
            let r = trailgraph(args, env);
            assert!(
                !r.stdout.contains('\u{1b}') && !r.stderr.contains('\u{1b}'),
                "{args:?} with {env:?}: {:?} {:?}",
                r.stdout,
                r.stderr
            );
            assert!(
                !r.stdout.is_empty() || !r.stderr.is_empty(),
                "{args:?} printed something"
            );
        }
    }
}
