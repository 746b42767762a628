//! Option values and their bounds: what the parser accepts for each declared
//! option, so that a value out of range is a parse error with a caret, never
//! a panic in the layer that reads it.

use std::fmt;

/// The values an option takes. A scheme lists a rule for each option it
/// declares in [`SchemeSpec::values`](super::SchemeSpec::values); the parser
/// checks the decoded value against it and reports
/// [`BadOptionValue`](super::EndpointErrorKind::BadOptionValue) pointing at
/// the value.
///
/// ```
/// use strata::endpoint::OptionValue;
/// let backlog = OptionValue::Int { min: 1, max: 65_535 };
/// assert!(backlog.check("64"));
/// assert!(!backlog.check("0") && !backlog.check("99999") && !backlog.check("-1"));
/// assert_eq!(backlog.to_string(), "a whole number from 1 to 65535");
/// assert!(OptionValue::Bool.check("true") && !OptionValue::Bool.check("yes"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptionValue {
    /// `true` or `false`.
    Bool,
    /// A decimal whole number in `min..=max` (no sign, no suffix).
    Int {
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// One of these words (compared exactly).
    OneOf(&'static [&'static str]),
    /// Text of `min_len..=max_len` bytes (a path, a name).
    Text {
        /// Fewest bytes.
        min_len: usize,
        /// Most bytes.
        max_len: usize,
    },
    /// A comma-separated list of 1 to `max_items` items, each of
    /// `1..=item_max` bytes (`h2,http/1.1`).
    List {
        /// Most bytes in one item.
        item_max: usize,
        /// Most items.
        max_items: usize,
    },
}

impl OptionValue {
    /// Whether `value` (decoded) is within this rule.
    ///
    /// ```
    /// use strata::endpoint::OptionValue;
    /// let port = OptionValue::Int { min: 1, max: 65535 };
    /// assert!(port.check("443"));
    /// assert!(!port.check("0") && !port.check("+1") && !port.check("70000"));
    /// let alpn = OptionValue::List { item_max: 255, max_items: 8 };
    /// assert!(alpn.check("h2,http/1.1"));
    /// assert!(!alpn.check("h2,,http/1.1")); // an empty item
    /// assert!(OptionValue::OneOf(&["v1", "v2"]).check("v2"));
    /// ```
    pub fn check(&self, value: &str) -> bool {
        match *self {
            OptionValue::Bool => matches!(value, "true" | "false"),
            OptionValue::Int { min, max } => {
                value.bytes().all(|c| c.is_ascii_digit())
                    && value.parse::<u64>().is_ok_and(|v| (min..=max).contains(&v))
            }
            OptionValue::OneOf(words) => words.contains(&value),
            OptionValue::Text { min_len, max_len } => (min_len..=max_len).contains(&value.len()),
            OptionValue::List {
                item_max,
                max_items,
            } => {
                let n = value.split(',').count();
                n <= max_items && value.split(',').all(|i| (1..=item_max).contains(&i.len()))
            }
        }
    }
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Bool => f.write_str("true or false"),
            OptionValue::Int { min, max } => write!(f, "a whole number from {min} to {max}"),
            OptionValue::OneOf(words) => write!(f, "one of {}", words.join(", ")),
            OptionValue::Text { min_len, max_len } => {
                write!(f, "text of {min_len} to {max_len} bytes")
            }
            OptionValue::List {
                item_max,
                max_items,
            } => write!(
                f,
                "1 to {max_items} comma-separated items of 1 to {item_max} bytes"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_plain_decimal_within_bounds() {
        let r = OptionValue::Int { min: 0, max: 10 };
        for ok in ["0", "10", "007"] {
            assert!(r.check(ok), "{ok}");
        }
        for bad in [
            "",
            "+1",
            "-0",
            "11",
            "1e3",
            " 1",
            "18446744073709551616",
            "0x1",
        ] {
            assert!(!r.check(bad), "{bad}");
        }
    }

    #[test]
    fn lists_refuse_empty_items_and_too_many() {
        let r = OptionValue::List {
            item_max: 3,
            max_items: 2,
        };
        assert!(r.check("h2") && r.check("a,bcd"));
        for bad in ["", ",", "a,", "abcd", "a,b,c"] {
            assert!(!r.check(bad), "{bad}");
        }
    }
}
