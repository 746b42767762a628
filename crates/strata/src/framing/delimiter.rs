//! [`Delimiter`]: what ends a line, never empty.

use bytes::Bytes;

/// The bytes that end a line: any non-empty byte string.
///
/// It is also the capability the `lines` view answers, so
/// [`send_line`](crate::framing::send_line) and other code above can learn
/// the delimiter in force with `t.get::<Delimiter>()`.
///
/// ```
/// use strata::framing::Delimiter;
/// assert_eq!(Delimiter::CRLF.as_bytes(), b"\r\n");
/// let nul = Delimiter::new(&b"\0"[..]).unwrap();
/// assert_eq!(nul.len(), 1);
/// assert!(Delimiter::new(Vec::new()).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Delimiter(Bytes);

/// A line delimiter cannot be empty.
///
/// ```
/// use strata::framing::{Delimiter, EmptyDelimiter};
/// assert_eq!(Delimiter::new(""), Err(EmptyDelimiter));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a line delimiter cannot be empty")]
pub struct EmptyDelimiter;

impl Delimiter {
    /// `\r\n`, the delimiter of most text protocols (and the default).
    pub const CRLF: Delimiter = Delimiter(Bytes::from_static(b"\r\n"));
    /// `\n`.
    pub const LF: Delimiter = Delimiter(Bytes::from_static(b"\n"));

    /// A delimiter made of `bytes`, which must not be empty.
    ///
    /// ```
    /// use strata::framing::{Delimiter, EmptyDelimiter};
    /// let d = Delimiter::new("\r\n\r\n").unwrap();
    /// assert_eq!(d.len(), 4);
    /// assert_eq!(Delimiter::new(&b""[..]), Err(EmptyDelimiter));
    /// ```
    pub fn new(bytes: impl Into<Bytes>) -> Result<Delimiter, EmptyDelimiter> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(EmptyDelimiter);
        }
        Ok(Delimiter(bytes))
    }

    /// The delimiter's bytes.
    ///
    /// ```
    /// use strata::framing::Delimiter;
    /// assert_eq!(Delimiter::LF.as_bytes(), b"\n");
    /// assert_eq!(Delimiter::new(&b"\0"[..]).unwrap().as_bytes(), b"\0");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes (at least 1).
    ///
    /// ```
    /// use strata::framing::Delimiter;
    /// assert_eq!(Delimiter::CRLF.len(), 2);
    /// assert_eq!(Delimiter::LF.len(), 1);
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty, by construction
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The offset of the first occurrence of the delimiter in `hay`.
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        let d = self.as_bytes();
        let (&first, rest) = d.split_first()?;
        let mut from = 0;
        while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
            let at = from + i;
            match hay.get(at + 1..at + d.len()) {
                Some(tail) if tail == rest => return Some(at),
                Some(_) => from = at + 1,
                None => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_matches_naive_search() {
        let hay = b"ab\r\r\ncd\r\n\r\x00\r";
        for d in [
            &b"\r\n"[..],
            b"\n",
            b"\r",
            b"\r\n\r",
            b"cd",
            b"zz",
            b"\r\x00\r\x00",
        ] {
            let delim = Delimiter::new(d.to_vec()).unwrap();
            for start in 0..hay.len() {
                let h = &hay[start..];
                let naive = h.windows(d.len()).position(|w| w == d);
                assert_eq!(delim.find(h), naive, "{d:?} in {h:?}");
            }
        }
    }
}
