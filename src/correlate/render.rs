//! Values shared by many items of an answer, rendered to JSON once. A resource with thousands of changes shares
//! each Config state between two calls (the after-state of one is the before-state of the next), and a session's
//! calls share one actor; rendering each once and copying the text is several times cheaper than walking its JSON
//! tree for every item.
//!
//! The CLI writes answers with `serde_json::to_writer_pretty` (two-space indent). Shared values are fields of list
//! items (`changes[].before`, `unexplained_changes[].after`, `events[].actor`...), always at [`FIELD_DEPTH`], so a
//! fragment rendered at that depth is byte for byte what the pretty printer would have written. Under any other
//! serializer the fragment is still valid JSON, only laid out differently.

use serde::Serialize;
use serde_json::ser::Formatter;
use serde_json::value::RawValue;
use std::cell::OnceCell;
use std::io;
use std::rc::Rc;

/// The nesting depth of a field of a list item in an answer: root → `changes` → item → `before`.
pub const FIELD_DEPTH: usize = 3;

/// A value shared (not copied) by the items of an answer that have it, serialized once: as the pretty printer
/// would write it at [`FIELD_DEPTH`].
#[derive(Debug)]
pub struct Shared<T>(Rc<(T, OnceCell<Box<RawValue>>)>);

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Shared(Rc::new((value, OnceCell::new())))
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Rc::clone(&self.0))
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0 .0
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0
             .1
            .get_or_init(|| pretty_at(&self.0 .0, FIELD_DEPTH))
            .serialize(s)
    }
}

/// `serde_json`'s `PrettyFormatter` (two spaces), starting `base` levels deep.
struct Indented {
    current: usize,
    has_value: bool,
}

impl Indented {
    fn indent<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        for _ in 0..self.current {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.current += 1;
        self.has_value = false;
        w.write_all(bracket)
    }
    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.current -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(bracket)
    }
    fn item<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }
}

impl Formatter for Indented {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `value` as pretty JSON whose first line sits `depth` levels deep, as a raw fragment to embed.
pub fn pretty_at<T: Serialize + ?Sized>(value: &T, depth: usize) -> Box<RawValue> {
    let mut buf = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        Indented {
            current: depth,
            has_value: false,
        },
    );
    // Serializing plain data into memory cannot fail, and the output is JSON by construction; `null` is a
    // valid fallback should either ever not hold.
    let text = match value.serialize(&mut ser) {
        Ok(()) => String::from_utf8(buf).unwrap_or_else(|_| "null".into()),
        Err(_) => "null".into(),
    };
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::ser::{SerializeMap, SerializeSeq, Serializer};
    use serde_json::{json, Value};

    /// A leaf nested in alternating objects and arrays.
    enum Nest<'a> {
        Plain(&'a Value),
        Pre(&'a RawValue),
        In(usize, &'a Nest<'a>),
    }
    impl Serialize for Nest<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Nest::Plain(v) => v.serialize(s),
                Nest::Pre(r) => r.serialize(s),
                Nest::In(level, inner) if level % 2 == 0 => {
                    let mut m = s.serialize_map(Some(2))?;
                    m.serialize_entry("k", inner)?;
                    m.serialize_entry("z", &1)?;
                    m.end()
                }
                Nest::In(_, inner) => {
                    let mut q = s.serialize_seq(Some(2))?;
                    q.serialize_element(&0)?;
                    q.serialize_element(inner)?;
                    q.end()
                }
            }
        }
    }
    /// `leaf` pretty-printed `depth` levels deep.
    fn nested(leaf: &Nest, depth: usize, f: &mut dyn FnMut(&Nest) -> String) -> String {
        if depth == 0 {
            return f(leaf);
        }
        nested(leaf, depth - 1, &mut |inner| f(&Nest::In(depth, inner)))
    }

    #[test]
    fn a_fragment_is_what_the_pretty_printer_writes_at_that_depth() {
        let state = json!({"a": [1, {"b": null, "c": []}, {}], "d": "x\u{1b}\"", "e": {"f": [[]]}});
        let pretty = &mut |n: &Nest| serde_json::to_string_pretty(n).unwrap();
        for depth in 0..5 {
            let expected = nested(&Nest::Plain(&state), depth, pretty);
            let raw = pretty_at(&state, depth);
            let embedded = nested(&Nest::Pre(&raw), depth, pretty);
            assert_eq!(embedded, expected, "depth {depth}");
            assert!(expected.contains("\n    "), "depth {depth}");
        }
    }
}
