//! Terminal output helpers. Log strings are attacker-controlled: control characters and ANSI escapes are
//! neutralized before anything reaches a terminal.

/// Standard output, block-buffered (stdout alone is line-buffered: one write per line of pretty JSON). The
/// buffer is flushed when dropped; commands flush explicitly to see errors such as a closed pipe.
pub fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Ends the life of a query's answer (and its read-only store) without running their destructors. The process
/// exits right after printing, and the OS takes its memory back at once; freeing a large answer node by node and
/// unmapping the store's memory map cost up to a tenth of a query. Nothing is lost: answers hold no unwritten
/// data and read-only connections have nothing to write back.
pub fn dismiss<T>(answer: T) {
    std::mem::forget(answer);
}

/// Replaces control characters (including ESC, so no ANSI sequence survives) and bidirectional overrides with
/// visible escapes (`model::text::visible`).
pub fn sanitize(s: &str) -> String {
    crate::model::text::visible(s).into_owned()
}

/// A CSV cell that a spreadsheet will not run as a formula: cells starting with `=`, `+`, `-`, `@`, tab or CR get
/// a leading apostrophe. Control characters are escaped as on the terminal.
pub fn csv_cell(s: &str) -> String {
    let s = sanitize(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn neutralizes_escapes() {
        assert_eq!(
            super::sanitize("a\x1b[31mred\x07\nb\u{202e}"),
            "a\\u{1b}[31mred\\u{7}\\nb\\u{202e}"
        );
        assert_eq!(super::sanitize("plain s3://b/k é"), "plain s3://b/k é");
        assert_eq!(super::csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(super::csv_cell("-1+2"), "'-1+2");
        assert_eq!(super::csv_cell("ok"), "ok");
    }
}
