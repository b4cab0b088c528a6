//! HTML building blocks. Every string that reaches the page goes through [`esc`] (text and attribute values
//! alike); class names come from fixed lists, never from data.

/// Escapes text for HTML element content and double- or single-quoted attribute values (also valid in SVG/XML):
/// `&`, `<`, `>`, `"`, `'`. Control characters other than newline and tab become visible escapes (`\u{1b}`), so
/// ANSI sequences are shown, not passed on.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(ch),
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&c.escape_unicode().to_string())
            }
            c => out.push(c),
        }
    }
    out
}

/// `esc` of an optional string, `—` when absent.
pub fn opt(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => esc(s),
        _ => "<span class=\"none\">—</span>".into(),
    }
}

/// The CSS class of an integrity status (a fixed set: anything else is `unknown`).
pub fn integrity_class(s: &str) -> &'static str {
    match s {
        "validated" => "validated",
        "invalid" => "invalid",
        "unverified" => "unverified",
        _ => "unknown",
    }
}

pub const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;color:#1b1f24;background:#fff;font-size:14px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.3em;border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:2em}h3{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse;width:100%;margin:.5em 0;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:3px 6px;vertical-align:top;text-align:left;overflow-wrap:break-word}
td code,td.mono,.evidence{overflow-wrap:anywhere}
table.changes td:first-child,table.attempts td:first-child,table.timeline td:first-child{white-space:nowrap}
th{background:#f6f8fa}
tr.failed td{background:#fff0f0}
.flag{display:inline-block;font-weight:bold;color:#fff;background:#cf222e;border-radius:3px;padding:0 4px;font-size:.85em}
.ok{color:#116329}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;max-height:30em;overflow:auto}
.integrity{border-radius:3px;padding:0 4px;font-size:.85em;white-space:nowrap}
.integrity.validated{background:#dafbe1;color:#116329}.integrity.invalid{background:#ffebe9;color:#cf222e;font-weight:bold}
.integrity.unverified,.integrity.unknown{background:#fff8c5;color:#7d4e00}
.evidence{font-size:12px;color:#57606a}
.none{color:#8c959f}
.sbs td.before{background:#fff5f5}.sbs td.after{background:#f0fff4}
.note{color:#57606a;font-style:italic}
nav ul{columns:2}
svg.strip{width:100%;height:auto;border:1px solid #d0d7de;background:#fbfcfd}
img.lineage{max-width:100%;border:1px solid #d0d7de}
details{margin:.3em 0}summary{cursor:pointer}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            esc("\"><img src=x onerror=alert(1)>"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(esc("a'b&c"), "a&#39;b&amp;c");
        assert_eq!(esc("\x1b[31mred\u{202e}"), "\\u{1b}[31mred\\u{202e}");
        assert_eq!(esc("</style>"), "&lt;/style&gt;");
        assert_eq!(esc("plain é\nline"), "plain é\nline");
        assert_eq!(opt(None), "<span class=\"none\">—</span>");
        assert_eq!(integrity_class("<x>"), "unknown");
    }
}
