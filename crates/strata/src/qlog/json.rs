//! The JSON text of event data: a small writer, so the core needs no JSON
//! library.

use std::fmt::Write;

use super::Value;

/// Appends `v` as JSON text to `out`.
///
/// ```
/// use strata::qlog::{write_value, Value};
/// let mut s = String::new();
/// write_value(&mut s, &Value::List(&[Value::Str("a\"b"), Value::F64(1.5), Value::I64(-2)]));
/// assert_eq!(s, r#"["a\"b",1.500,-2]"#);
/// ```
pub fn write_value(out: &mut String, v: &Value<'_>) {
    match *v {
        Value::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::F64(x) if x.is_finite() => {
            let _ = write!(out, "{x:.3}");
        }
        Value::F64(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Str(s) => write_str(out, s),
        Value::Raw(json) => out.push_str(json),
        Value::Obj(fields) => write_fields(out, fields),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// Appends an object of `fields`.
pub(crate) fn write_fields(out: &mut String, fields: &[(&str, Value<'_>)]) {
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

/// Appends `s` as a JSON string, escaped.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_non_finite_numbers_stay_valid_json() {
        let mut s = String::new();
        write_value(
            &mut s,
            &Value::Obj(&[
                ("k\u{1}", Value::Str("\u{1e}x\n")),
                ("f", Value::F64(f64::NAN)),
            ]),
        );
        assert_eq!(s, r#"{"k\u0001":"\u001ex\n","f":null}"#);
    }
}
