//! Message bodies on the wire: the incremental reader (content-length,
//! chunked, until close) and the chunked writer's pieces.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::H1Error;

/// How a body arriving from the peer is delimited.
#[derive(Debug)]
pub(crate) enum BodyReader {
    /// `Content-Length`: the bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// Everything until the peer closes (responses only).
    UntilClose,
}

/// The state of a chunked body being read.
#[derive(Debug)]
pub(crate) struct Chunked {
    st: ChunkState,
    /// Bytes of the current unit (a size line, the trailer section) already
    /// scanned without finding its end: a unit split over many reads is not
    /// scanned again from its start.
    scan: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data: bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer fields, then an empty line.
    Trailers,
}

/// What one [`BodyReader::step`] found at the front of the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// `src[..n]` is body data.
    Data(usize),
    /// `n` bytes of framing were consumed.
    Skip(usize),
    /// The body ended after `n` bytes of framing, with these trailers.
    End(usize, Option<HeaderMap>),
    /// More input is needed.
    Need,
}

/// The bounds a reader keeps to (from `H1Config`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_chunk_line: usize,
    pub(crate) max_trailer_bytes: usize,
    pub(crate) max_headers: usize,
}

impl BodyReader {
    /// A chunked reader at the start of a body.
    pub(crate) fn chunked() -> BodyReader {
        BodyReader::Chunked(Chunked {
            st: ChunkState::Size,
            scan: 0,
        })
    }

    /// Looks at the front of `src` and says what it is. Consumes nothing
    /// itself: the caller advances by the count in the event. Never buffers:
    /// an incomplete unit is left in `src` (bounded by the limits).
    pub(crate) fn step(&mut self, src: &[u8], lim: &Limits) -> Result<Event, H1Error> {
        match self {
            BodyReader::Length(0) => Ok(Event::End(0, None)),
            BodyReader::Length(rem) => {
                if src.is_empty() {
                    return Ok(Event::Need);
                }
                let n = usize::try_from(*rem).unwrap_or(usize::MAX).min(src.len());
                *rem -= n as u64;
                Ok(Event::Data(n))
            }
            BodyReader::UntilClose if src.is_empty() => Ok(Event::Need),
            BodyReader::UntilClose => Ok(Event::Data(src.len())),
            BodyReader::Chunked(c) => c.step(src, lim),
        }
    }

    /// Whether the peer's EOF ends this body cleanly.
    pub(crate) fn ends_at_eof(&self) -> bool {
        matches!(self, BodyReader::UntilClose | BodyReader::Length(0))
    }
}

impl Chunked {
    fn step(&mut self, src: &[u8], lim: &Limits) -> Result<Event, H1Error> {
        match self.st {
            ChunkState::Size => self.size_line(src, lim),
            ChunkState::Data(rem) => {
                if src.is_empty() {
                    return Ok(Event::Need);
                }
                let n = usize::try_from(rem).unwrap_or(usize::MAX).min(src.len());
                let left = rem - n as u64;
                self.st = if left == 0 {
                    ChunkState::DataEnd
                } else {
                    ChunkState::Data(left)
                };
                Ok(Event::Data(n))
            }
            ChunkState::DataEnd => match src {
                [] | [b'\r'] => Ok(Event::Need),
                [b'\r', b'\n', ..] => {
                    self.st = ChunkState::Size;
                    Ok(Event::Skip(2))
                }
                _ => Err(H1Error::MalformedChunk),
            },
            ChunkState::Trailers => self.trailers(src, lim),
        }
    }

    fn size_line(&mut self, src: &[u8], lim: &Limits) -> Result<Event, H1Error> {
        // The line may hold `max_chunk_line` bytes before its CRLF.
        let limit = lim.max_chunk_line.saturating_add(2);
        let from = self.scan.min(src.len());
        let Some(i) = src[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + from)
        else {
            if src.len() > limit {
                return Err(H1Error::ChunkLineTooLong {
                    limit: lim.max_chunk_line,
                });
            }
            self.scan = src.len();
            return Ok(Event::Need);
        };
        self.scan = 0;
        if i + 1 > limit {
            return Err(H1Error::ChunkLineTooLong {
                limit: lim.max_chunk_line,
            });
        }
        // A bare LF is refused: lenient line endings are how chunked
        // smuggling between two parsers starts.
        let line = match src[..i].split_last() {
            Some((b'\r', line)) => line,
            _ => return Err(H1Error::InvalidChunkSize),
        };
        let size = parse_chunk_size(line)?;
        self.st = if size == 0 {
            ChunkState::Trailers
        } else {
            ChunkState::Data(size)
        };
        Ok(Event::Skip(i + 1))
    }

    fn trailers(&mut self, src: &[u8], lim: &Limits) -> Result<Event, H1Error> {
        match src {
            [] | [b'\r'] => return Ok(Event::Need),
            [b'\r', b'\n', ..] => return Ok(Event::End(2, None)),
            _ => {}
        }
        let from = self.scan.saturating_sub(3).min(src.len());
        let Some(end) = src[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| from + i + 4)
        else {
            if src.len() > lim.max_trailer_bytes {
                return Err(H1Error::TrailersTooLarge {
                    limit: lim.max_trailer_bytes,
                });
            }
            self.scan = src.len();
            return Ok(Event::Need);
        };
        if end > lim.max_trailer_bytes {
            return Err(H1Error::TrailersTooLarge {
                limit: lim.max_trailer_bytes,
            });
        }
        self.scan = 0;
        let map = parse_trailers(&src[..end], lim.max_headers)?;
        Ok(Event::End(end, Some(map)))
    }
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1), the CRLF already removed.
/// Extensions are checked for control characters and otherwise ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(H1Error::InvalidChunkSize);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        // `digits` counted hex digits only.
        let d = char::from(b).to_digit(16).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
            .ok_or(H1Error::InvalidChunkSize)?;
    }
    let rest = &line[digits..];
    let ext = rest.trim_ascii_start();
    if !ext.is_empty() && ext[0] != b';' {
        return Err(H1Error::InvalidChunkSize);
    }
    if ext.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(H1Error::InvalidChunkSize);
    }
    Ok(size)
}

fn parse_trailers(block: &[u8], max_headers: usize) -> Result<HeaderMap, H1Error> {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let fields = match httparse::parse_headers(block, &mut headers) {
        Ok(httparse::Status::Complete((_, fields))) => fields,
        Ok(httparse::Status::Partial) => return Err(H1Error::MalformedTrailers("incomplete")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::TooManyHeaders { limit: max_headers })
        }
        Err(e) => return Err(H1Error::MalformedTrailers(super::wire::describe(e))),
    };
    let mut map = HeaderMap::with_capacity(fields.len());
    for f in fields {
        let name = HeaderName::from_bytes(f.name.as_bytes())
            .map_err(|_| H1Error::MalformedTrailers("invalid field name"))?;
        let value = HeaderValue::from_bytes(f.value)
            .map_err(|_| H1Error::MalformedTrailers("invalid field value"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The size line of a chunk of `len` bytes: `{len:x}\r\n`, in `buf`.
pub(crate) fn chunk_head(len: usize, buf: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut i = 16;
    let mut n = len;
    loop {
        i -= 1;
        buf[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    buf[16] = b'\r';
    buf[17] = b'\n';
    &buf[i..]
}

/// The last chunk with no trailers.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The last chunk followed by `trailers` and the final empty line.
pub(crate) fn last_chunk_with(trailers: &HeaderMap) -> Vec<u8> {
    let mut out = b"0\r\n".to_vec();
    super::wire::encode_fields(trailers, &mut out);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        max_chunk_line: 24,
        max_trailer_bytes: 64,
        max_headers: 4,
    };

    /// Runs a reader over `src` fed in pieces of `step` bytes, returning the
    /// body, the trailers, and whether it ended.
    fn run(
        mut r: BodyReader,
        src: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, Option<HeaderMap>, bool), H1Error> {
        let mut held = Vec::new();
        let mut body = Vec::new();
        for chunk in src.chunks(piece.max(1)) {
            held.extend_from_slice(chunk);
            let mut pos = 0;
            loop {
                match r.step(&held[pos..], &LIM)? {
                    Event::Data(n) => {
                        body.extend_from_slice(&held[pos..pos + n]);
                        pos += n;
                    }
                    Event::Skip(n) => pos += n,
                    Event::End(n, t) => {
                        assert!(pos + n <= held.len());
                        return Ok((body, t, true));
                    }
                    Event::Need => break,
                }
            }
            held.drain(..pos);
        }
        Ok((body, None, false))
    }

    #[test]
    fn chunked_at_every_split() {
        let wire = b"5\r\nhello\r\n1;ext=\"x y\"\r\n \r\n0\r\nA: b\r\nC: d\r\n\r\n";
        for piece in 1..wire.len() {
            let (body, t, done) = run(BodyReader::chunked(), wire, piece).unwrap();
            assert!(done, "piece {piece}");
            assert_eq!(body, b"hello ");
            let t = t.unwrap();
            assert_eq!(t["a"], "b");
            assert_eq!(t["c"], "d");
        }
    }

    #[test]
    fn chunked_without_trailers() {
        let (body, t, done) =
            run(BodyReader::chunked(), b"A\r\n0123456789\r\n0\r\n\r\n", 3).unwrap();
        assert_eq!((body.as_slice(), t, done), (&b"0123456789"[..], None, true));
    }

    #[test]
    fn chunked_errors() {
        let cases: &[(&[u8], H1Error)] = &[
            (b"x\r\n", H1Error::InvalidChunkSize),
            (b"\r\n", H1Error::InvalidChunkSize),
            (b"5\n", H1Error::InvalidChunkSize),
            (b"5 x\r\n", H1Error::InvalidChunkSize),
            (b"5;a\x01\r\n", H1Error::InvalidChunkSize),
            (b"10000000000000000\r\n", H1Error::InvalidChunkSize),
            (b"5\r\nhelloXY", H1Error::MalformedChunk),
            (
                b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                H1Error::ChunkLineTooLong { limit: 24 },
            ),
            (
                b"0\r\nbad header\r\n\r\n",
                H1Error::MalformedTrailers("invalid header name"),
            ),
            (
                b"0\r\nA: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                H1Error::TrailersTooLarge { limit: 64 },
            ),
            (
                b"0\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n",
                H1Error::TooManyHeaders { limit: 4 },
            ),
        ];
        for (wire, want) in cases {
            for piece in [1, 2, 1000] {
                let got = run(BodyReader::chunked(), wire, piece).unwrap_err();
                assert_eq!(
                    &got,
                    want,
                    "{:?} piece {piece}",
                    String::from_utf8_lossy(wire)
                );
            }
        }
    }

    #[test]
    fn largest_chunk_size_is_accepted() {
        let mut r = BodyReader::chunked();
        assert_eq!(r.step(b"ffffffffffffffff\r\nab", &LIM), Ok(Event::Skip(18)));
        assert_eq!(r.step(b"ab", &LIM), Ok(Event::Data(2)));
    }

    #[test]
    fn length_and_until_close() {
        let (body, _, done) = run(BodyReader::Length(4), b"abcdef", 1).unwrap();
        assert_eq!((body.as_slice(), done), (&b"abcd"[..], true));
        let (body, _, done) = run(BodyReader::UntilClose, b"abcdef", 4).unwrap();
        assert_eq!((body.as_slice(), done), (&b"abcdef"[..], false));
        assert!(BodyReader::UntilClose.ends_at_eof());
        assert!(!BodyReader::Length(1).ends_at_eof());
        assert!(!BodyReader::chunked().ends_at_eof());
    }

    #[test]
    fn chunk_heads() {
        let mut buf = [0; 18];
        assert_eq!(chunk_head(0, &mut buf), b"0\r\n");
        assert_eq!(chunk_head(255, &mut buf), b"ff\r\n");
        assert_eq!(chunk_head(0x1a2b, &mut buf), b"1a2b\r\n");
        assert_eq!(chunk_head(usize::MAX, &mut buf).len(), 18);
    }
}
