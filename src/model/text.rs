//! Showing attacker-controlled text safely.

use std::borrow::Cow;

/// Text made safe to show: control characters (ESC included, so no ANSI sequence survives), bidirectional
/// overrides and noncharacters become visible escapes (`\n`, `\r`, `\t`, `\u{1b}`). Used by the terminal output
/// (`cli::output::sanitize`), the export writers and the ingest pipeline's messages.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || is_noncharacter(c)
}

/// Unicode noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF): U+FFFE and U+FFFF cannot appear in XML at all, so a
/// Graphviz SVG carrying them would not parse.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{fdd0}'..='\u{fdef}') || (c as u32) & 0xfffe == 0xfffe
}
