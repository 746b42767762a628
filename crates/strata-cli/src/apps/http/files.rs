//! `--root DIR`: files, directory listings and single byte ranges.

use std::fmt::Write as _;
use std::fs::{self, File, Metadata};
use std::io::{self, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use strata::http::request;
use strata::StreamProtocol;

use super::body::{FileChunks, Streamed};
use super::{digits, Fixed, MAX_LISTING};

/// Percent-encoded in the links of a listing: all but RFC 3986's unreserved
/// characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Serves the file or directory that `req`'s path names under `root` (an
/// absolute, resolved directory).
pub(super) fn serve(root: &Path, req: &request::Parts) -> Box<dyn StreamProtocol> {
    let head_only = req.method == Method::HEAD;
    let segments = match decode_path(req.uri.path()) {
        Ok(s) => s,
        Err(status) => return Fixed::error(status, head_only).boxed(),
    };
    let mut path = root.to_path_buf();
    path.extend(&segments);
    let (real, meta) = match resolve(root, &path) {
        Ok(found) => found,
        Err(status) => return Fixed::error(status, head_only).boxed(),
    };
    if meta.is_file() {
        return file(&real, req);
    }
    if !meta.is_dir() {
        // A socket, a FIFO (opening it would block), a device: not served.
        return Fixed::error(StatusCode::FORBIDDEN, head_only).boxed();
    }
    let url = url_of(&segments);
    if !req.uri.path().ends_with('/') {
        // Relative links in the listing need the trailing slash. The target
        // is rebuilt from the decoded segments, so it is always a path on
        // this server (never `//host/...`).
        return match HeaderValue::try_from(url) {
            Ok(location) => Fixed::error(StatusCode::MOVED_PERMANENTLY, head_only)
                .header(header::LOCATION, location)
                .boxed(),
            Err(_) => Fixed::error(StatusCode::NOT_FOUND, head_only).boxed(),
        };
    }
    match resolve(root, &real.join("index.html")) {
        Ok((index, meta)) if meta.is_file() => return file(&index, req),
        _ => {}
    }
    match listing(&real, &url) {
        Ok(list) => {
            let title = escape_html(&url);
            let page = format!(
                "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index of {title}</title>\n\
                 <h1>Index of {title}</h1>\n{list}"
            );
            Fixed::new(StatusCode::OK, "text/html; charset=utf-8", page)
                .head_only(head_only)
                .boxed()
        }
        Err(e) => Fixed::error(io_status(&e), head_only).boxed(),
    }
}

/// The path's segments, percent-decoded; empty and `.` segments dropped.
/// A `..` segment, or one that decodes to a path separator, a NUL or
/// anything but one plain file name, is refused with 403; bytes that are not
/// UTF-8 with 400.
pub(super) fn decode_path(raw: &str) -> Result<Vec<String>, StatusCode> {
    let mut out = Vec::new();
    for seg in raw.split('/') {
        let seg = percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| StatusCode::BAD_REQUEST)?;
        if seg.is_empty() || seg == "." {
            continue;
        }
        if seg.contains(['/', '\\', '\0']) {
            return Err(StatusCode::FORBIDDEN);
        }
        let mut parts = Path::new(&*seg).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(_)), None) => out.push(seg.into_owned()),
            _ => return Err(StatusCode::FORBIDDEN),
        }
    }
    Ok(out)
}

/// Resolves `path` (symbolic links included) and checks it is still under
/// `root`.
fn resolve(root: &Path, path: &Path) -> Result<(PathBuf, Metadata), StatusCode> {
    let real = fs::canonicalize(path).map_err(|e| io_status(&e))?;
    if !real.starts_with(root) {
        return Err(StatusCode::FORBIDDEN);
    }
    let meta = fs::metadata(&real).map_err(|e| io_status(&e))?;
    Ok((real, meta))
}

fn io_status(e: &io::Error) -> StatusCode {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The URL path of a directory, `/`-terminated, each segment encoded.
fn url_of(segments: &[String]) -> String {
    let mut url = String::from("/");
    for s in segments {
        let _ = write!(url, "{}/", utf8_percent_encode(s, SEGMENT));
    }
    url
}

/// A regular file: 200, 206 for one satisfiable range of a GET, or 416.
fn file(path: &Path, req: &request::Parts) -> Box<dyn StreamProtocol> {
    let head_only = req.method == Method::HEAD;
    let opened = File::open(path).and_then(|f| {
        let meta = f.metadata()?;
        Ok((f, meta))
    });
    let (mut f, meta) = match opened {
        Ok(found) if found.1.is_file() => found,
        Ok(_) => return Fixed::error(StatusCode::FORBIDDEN, head_only).boxed(),
        Err(e) => return Fixed::error(io_status(&e), head_only).boxed(),
    };
    let len = meta.len();
    let modified = meta.modified().ok().map(httpdate::fmt_http_date);
    let mut headers = HeaderMap::new();
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(v) = modified
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
    match requested_range(req, len, modified.as_deref()) {
        ByteRange::Full => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let body = if head_only { 0 } else { len };
            let chunks = FileChunks {
                file: f,
                path: path.to_path_buf(),
            };
            Box::new(Streamed::new(StatusCode::OK, headers, body, chunks))
        }
        ByteRange::Part { start, end } => {
            if let Err(e) = f.seek(SeekFrom::Start(start)) {
                return Fixed::error(io_status(&e), false).boxed();
            }
            let part = end - start + 1;
            let range = format!("bytes {start}-{end}/{len}");
            // Digits, spaces, `-` and `/` only: always a valid header value.
            if let Ok(v) = HeaderValue::try_from(range) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(part));
            let chunks = FileChunks {
                file: f,
                path: path.to_path_buf(),
            };
            Box::new(Streamed::new(
                StatusCode::PARTIAL_CONTENT,
                headers,
                part,
                chunks,
            ))
        }
        ByteRange::Unsatisfiable => {
            let mut refused = Fixed::error(StatusCode::RANGE_NOT_SATISFIABLE, false);
            if let Ok(v) = HeaderValue::try_from(format!("bytes */{len}")) {
                refused = refused.header(header::CONTENT_RANGE, v);
            }
            refused
                .header(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"))
                .boxed()
        }
    }
}

/// The range a request asks for, if it is honoured: only on GET (RFC 9110
/// §14.2), with exactly one `Range` field, and when `If-Range` (if any)
/// equals our `Last-Modified` exactly (we send no entity tags, so a tag
/// never matches).
fn requested_range(req: &request::Parts, len: u64, modified: Option<&str>) -> ByteRange {
    if req.method != Method::GET {
        return ByteRange::Full;
    }
    if let Some(cond) = req.headers.get(header::IF_RANGE)
        && Some(cond.as_bytes()) != modified.map(str::as_bytes)
    {
        return ByteRange::Full;
    }
    let mut fields = req.headers.get_all(header::RANGE).iter();
    match (fields.next(), fields.next()) {
        (Some(v), None) => v.to_str().map_or(ByteRange::Full, |v| parse_range(v, len)),
        _ => ByteRange::Full,
    }
}

/// What a `Range` field asks of a representation of some length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ByteRange {
    /// Serve the whole representation (no range, several ranges, or a field
    /// we do not understand: RFC 9110 §14.2 lets a server ignore those).
    Full,
    /// Bytes `start..=end`, both within the representation.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// A well-formed single range that selects nothing: 416.
    Unsatisfiable,
}

/// Parses a `Range` field value against a representation of `len` bytes:
/// `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2).
pub(super) fn parse_range(value: &str, len: u64) -> ByteRange {
    let value = value.trim();
    let Some((unit, spec)) = value.split_once('=') else {
        return ByteRange::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last `n` bytes.
        return match digits(last) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        };
    }
    let Some(start) = digits(first) else {
        return ByteRange::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match digits(last) {
            Some(end) if end >= start => end,
            _ => return ByteRange::Full,
        }
    };
    if start >= len {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Part {
        start,
        end: end.min(len - 1),
    }
}

/// An HTML list of the entries of `dir` (a page at URL path `url`), sorted,
/// at most [`MAX_LISTING`] of them; names that are not UTF-8 are left out
/// (no request could name them).
pub(super) fn listing(dir: &Path, url: &str) -> io::Result<String> {
    let mut names = Vec::new();
    let mut truncated = false;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if names.len() == MAX_LISTING {
            truncated = true;
            break;
        }
        names.push((name, entry.path().is_dir()));
    }
    names.sort();
    let mut out = String::from("<ul>\n");
    if url != "/" {
        out.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in &names {
        let slash = if *is_dir { "/" } else { "" };
        let _ = writeln!(
            out,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            utf8_percent_encode(name, SEGMENT),
            escape_html(name)
        );
    }
    out.push_str("</ul>\n");
    if truncated {
        let _ = writeln!(out, "<p>(only the first {MAX_LISTING} entries)</p>");
    }
    Ok(out)
}

/// Escapes text for HTML content and quoted attributes.
pub(super) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
