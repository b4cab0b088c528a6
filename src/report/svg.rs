//! Pictures: the time strip of a timeline (inline SVG drawn here: only shapes, and text escaped by `esc`), and
//! lineage graphs drawn by Graphviz from the `export::dot` output, embedded as a base64 `data:` image.

use super::html::esc;
use crate::correlate::TimelineEvent;
use crate::lineage::Graph;
use crate::model::time::parse_time_str;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const W: f64 = 1000.0;

/// One mark per call along a time axis; failed calls are red crosses on their own row.
pub fn strip(events: &[&TimelineEvent]) -> String {
    let times: Vec<Option<i64>> = events
        .iter()
        .map(|e| e.time.as_deref().and_then(parse_time_str))
        .collect();
    let (Some(t0), Some(t1)) = (
        times.iter().flatten().min().copied(),
        times.iter().flatten().max().copied(),
    ) else {
        return String::new();
    };
    let span = (t1 - t0).max(1) as f64;
    let x = |t: i64| 20.0 + (t - t0) as f64 / span * (W - 40.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"strip\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} 90\" role=\"img\" aria-label=\"calls over time\">"
    );
    s.push_str("<line x1=\"20\" y1=\"60\" x2=\"980\" y2=\"60\" stroke=\"#57606a\"/>\n");
    s.push_str("<text x=\"4\" y=\"33\" font-size=\"10\" fill=\"#116329\">ok</text><text x=\"4\" y=\"53\" font-size=\"10\" fill=\"#cf222e\">failed</text>\n");
    for (e, t) in events.iter().zip(&times) {
        let Some(t) = t else { continue };
        let cx = x(*t);
        let tip = format!(
            "{} {}{}",
            e.time.as_deref().unwrap_or(""),
            e.event_name,
            e.error_code
                .as_deref()
                .map(|c| format!(" FAILED {c}"))
                .unwrap_or_default()
        );
        if e.error_code.is_some() {
            let _ = writeln!(
                s,
                "<g class=\"mark failed\"><title>{}</title><path d=\"M{:.1} 44 l8 8 m0 -8 l-8 8\" transform=\"translate(-4 0)\" stroke=\"#cf222e\" stroke-width=\"2\"/></g>",
                esc(&tip),
                cx
            );
        } else {
            let _ = writeln!(
                s,
                "<g class=\"mark ok\"><title>{}</title><circle cx=\"{:.1}\" cy=\"30\" r=\"3.5\" fill=\"#0969da\" fill-opacity=\"0.6\"/></g>",
                esc(&tip),
                cx
            );
        }
    }
    let label = |t: i64| esc(&crate::model::time::format_ms(t));
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"78\" font-size=\"11\">{}</text><text x=\"980\" y=\"78\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        label(t0),
        label(t1)
    );
    s.push_str("</svg>\n");
    s
}

/// The graph as SVG by Graphviz (`dot -Tsvg`), base64-encoded for an `<img>`; None when `dot` is missing, fails
/// or takes more than 30 seconds.
pub fn graphviz(g: &Graph) -> Option<String> {
    use base64::Engine;
    let mut dot = Vec::new();
    crate::export::write(g, crate::export::ExportFormat::Dot, &mut dot).ok()?;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let writer = std::thread::spawn(move || stdin.write_all(&dot));
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let svg = reader.join().ok()?.ok()?;
    if !status?.success() || svg.is_empty() {
        return None;
    }
    Some(base64::engine::general_purpose::STANDARD.encode(svg))
}
