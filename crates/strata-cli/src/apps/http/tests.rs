//! The demo service over a fake exchange transport: every route, ranges,
//! traversal attempts, HEAD, and the back-pressure loops.

use std::any::{Any, TypeId};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use http::header;
use http::{response, StatusCode};
use strata::http::{HttpControl, HttpError, RequestHead, Service};
use strata::{Close, Introspect, StreamProtocol, StreamTransport, Wake, WakeHub};

use super::body::ALPHABET;
use super::files::{decode_path, parse_range, ByteRange};
use super::*;

/// An HTTP exchange transport that records what the request protocol did.
struct Fake {
    req: RequestHead,
    heads: Vec<response::Parts>,
    body: Vec<u8>,
    /// Bytes written since the test last drained `body` (what `writable`
    /// compares with the high-water mark).
    queued: usize,
    high_water: usize,
    wrote_before_head: bool,
    closed: bool,
    aborted: Option<Close>,
    read_paused: bool,
    hub: Arc<WakeHub>,
}

impl Fake {
    fn new(req: &request::Parts, high_water: usize) -> Fake {
        let mut copy = http::Request::new(());
        *copy.method_mut() = req.method.clone();
        *copy.uri_mut() = req.uri.clone();
        *copy.headers_mut() = req.headers.clone();
        Fake {
            req: RequestHead(copy.into_parts().0),
            heads: Vec::new(),
            body: Vec::new(),
            queued: 0,
            high_water,
            wrote_before_head: false,
            closed: false,
            aborted: None,
            read_paused: false,
            hub: WakeHub::new(),
        }
    }

    fn head(&self) -> &response::Parts {
        assert_eq!(self.heads.len(), 1, "exactly one response head");
        &self.heads[0]
    }

    fn status(&self) -> StatusCode {
        self.head().status
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.head().headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// As if the queued bytes had been sent: `writable` again.
    fn drain(&mut self) {
        self.queued = 0;
    }
}

impl Introspect for Fake {
    fn name(&self) -> &'static str {
        "fake-exchange"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        (id == TypeId::of::<RequestHead>()).then_some(&self.req as &dyn Any)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        None
    }
}

impl StreamTransport for Fake {
    fn write(&mut self, data: &[u8]) {
        assert!(!self.closed, "write after close");
        if self.heads.is_empty() {
            self.wrote_before_head = true;
        }
        self.body.extend_from_slice(data);
        self.queued += data.len();
    }
    fn write_eof(&mut self) {
        self.closed = true;
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn abort(&mut self, why: Close) {
        self.aborted.get_or_insert(why);
    }
    fn pause_reading(&mut self) {
        self.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.queued
    }
    fn writable(&self) -> bool {
        self.queued < self.high_water
    }
    fn now(&self) -> Instant {
        strata::testing::epoch()
    }
    fn waker(&self) -> Wake {
        Wake::root(self.hub.clone())
    }
    fn control(&mut self, mut call: strata::Call<'_>) {
        call.answer(|msg: HttpControl| match msg {
            HttpControl::Respond(head) if self.heads.is_empty() => {
                self.heads.push(head);
                Ok(())
            }
            HttpControl::Respond(_) => Err(HttpError::HeadAlreadySent),
            _ => Err(HttpError::BodyEnded),
        });
    }
}

const BIG: usize = 1 << 30;

fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

/// Calls the service, starts the protocol, and (unless the body is held by
/// back-pressure) runs it to the end of its response.
fn exchange_with(
    demo: &Demo,
    r: request::Parts,
    high_water: usize,
) -> (Box<dyn StreamProtocol>, Fake) {
    let mut p = demo.call(&r);
    let mut t = Fake::new(&r, high_water);
    p.connection_made(&mut t);
    (p, t)
}

fn get(demo: &Demo, uri: &str, headers: &[(&str, &str)]) -> Fake {
    let (mut p, mut t) = exchange_with(demo, req("GET", uri, headers), BIG);
    p.eof_received(&mut t);
    finish(&mut *p, &mut t);
    t
}

fn head(demo: &Demo, uri: &str) -> Fake {
    let (mut p, mut t) = exchange_with(demo, req("HEAD", uri, &[]), BIG);
    p.eof_received(&mut t);
    t
}

/// Drains and resumes until the response is closed or aborted.
fn finish(p: &mut dyn StreamProtocol, t: &mut Fake) {
    for _ in 0..100_000 {
        if t.closed || t.aborted.is_some() {
            return;
        }
        t.drain();
        p.resume_writing(t);
    }
    panic!("the response never ended");
}

fn demo() -> Demo {
    Demo::new(None)
}

fn body_text(t: &Fake) -> &str {
    std::str::from_utf8(&t.body).unwrap()
}

#[test]
fn index_lists_the_routes_and_head_has_no_body() {
    let t = get(&demo(), "/", &[("host", "example.test:8080")]);
    assert_eq!(t.status(), 200);
    assert_eq!(
        t.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    let page = body_text(&t);
    for route in ["/echo", "/bytes/", "/status/", "/hello"] {
        assert!(page.contains(route), "{route} missing from {page}");
    }
    assert!(page.contains("http://example.test:8080/hello"), "{page}");
    assert_eq!(
        t.header(header::CONTENT_LENGTH),
        Some(&*t.body.len().to_string())
    );
    assert!(t.closed && !t.wrote_before_head);

    let h = head(&demo(), "/");
    assert_eq!(h.status(), 200);
    assert!(h.body.is_empty() && h.closed);
    let g = get(&demo(), "/", &[]);
    assert_eq!(
        h.header(header::CONTENT_LENGTH),
        g.header(header::CONTENT_LENGTH)
    );
    assert!(body_text(&g).contains("http://HOST:PORT/hello"));
}

#[test]
fn index_escapes_the_host() {
    let t = get(&demo(), "/", &[("host", "a<b>\"c")]);
    let page = body_text(&t);
    assert!(page.contains("a&lt;b&gt;&quot;c"), "{page}");
    assert!(!page.contains("a<b>"));
}

#[test]
fn hello_is_thirteen_bytes() {
    let t = get(&demo(), "/hello", &[]);
    assert_eq!(t.status(), 200);
    assert_eq!(t.body, HELLO);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("13"));
}

#[test]
fn echo_streams_the_body_back_with_its_type() {
    let r = req(
        "POST",
        "/echo",
        &[("content-type", "text/plain"), ("content-length", "11")],
    );
    let (mut p, mut t) = exchange_with(&demo(), r, BIG);
    assert!(t.heads.is_empty(), "the head waits for the body");
    p.data_received(&mut t, b"hello ");
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_TYPE), Some("text/plain"));
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("11"));
    p.data_received(&mut t, b"world");
    assert!(!t.closed);
    p.eof_received(&mut t);
    assert_eq!(t.body, b"hello world");
    assert!(t.closed && !t.read_paused);
}

#[test]
fn echo_defaults_to_octet_stream_for_any_method() {
    let (mut p, mut t) = exchange_with(&demo(), req("PUT", "/echo", &[]), BIG);
    p.data_received(&mut t, b"x");
    assert_eq!(
        t.header(header::CONTENT_TYPE),
        Some("application/octet-stream")
    );
    assert_eq!(t.header(header::CONTENT_LENGTH), None);
    p.eof_received(&mut t);
    assert_eq!(t.body, b"x");
}

#[test]
fn echo_of_an_empty_body_answers_at_its_end() {
    let r = req("POST", "/echo", &[("content-length", "0")]);
    let (mut p, mut t) = exchange_with(&demo(), r, BIG);
    assert!(t.heads.is_empty());
    p.eof_received(&mut t);
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("0"));
    assert!(t.closed && t.body.is_empty());
}

#[test]
fn echo_pauses_reading_while_not_writable() {
    let (mut p, mut t) = exchange_with(&demo(), req("POST", "/echo", &[]), 8);
    p.data_received(&mut t, b"0123");
    assert!(!t.read_paused);
    p.data_received(&mut t, b"456789");
    assert!(t.read_paused, "over the high-water mark: reading paused");
    t.drain();
    p.resume_writing(&mut t);
    assert!(!t.read_paused, "drained: reading resumed");
    // The pause_writing edge pauses too, once.
    p.pause_writing(&mut t);
    assert!(t.read_paused);
    p.resume_writing(&mut t);
    assert!(!t.read_paused);
    p.eof_received(&mut t);
    assert_eq!(t.body, b"0123456789");
}

#[test]
fn sink_discards_the_body_and_answers_at_its_end() {
    let r = req("POST", "/sink", &[("content-length", "10")]);
    let (mut p, mut t) = exchange_with(&demo(), r, BIG);
    p.data_received(&mut t, b"01234");
    p.data_received(&mut t, b"56789");
    assert!(t.heads.is_empty(), "no answer before the request's end");
    assert!(!t.read_paused && !t.closed);
    p.eof_received(&mut t);
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("0"));
    assert!(t.body.is_empty(), "nothing echoed");
    assert!(t.closed && t.aborted.is_none());
    // Any method; a GET without a body answers at once at its end.
    let t = get(&demo(), "/sink", &[]);
    assert_eq!(t.status(), 200);
    assert!(t.body.is_empty() && t.closed);
}

fn assert_pattern(body: &[u8]) {
    for (i, b) in body.iter().enumerate() {
        assert_eq!(*b, ALPHABET[i % ALPHABET.len()], "byte {i}");
    }
}

#[test]
fn bytes_sends_n_bytes_of_the_pattern() {
    let n = 3 * CHUNK + 1234;
    let t = get(&demo(), &format!("/bytes/{n}"), &[]);
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some(&*n.to_string()));
    assert_eq!(
        t.header(header::CONTENT_TYPE),
        Some("application/octet-stream")
    );
    assert_eq!(t.body.len(), n);
    assert_pattern(&t.body);
    assert!(t.closed);

    let zero = get(&demo(), "/bytes/0", &[]);
    assert_eq!(zero.status(), 200);
    assert!(zero.body.is_empty() && zero.closed);
    assert_eq!(zero.header(header::CONTENT_LENGTH), Some("0"));
}

#[test]
fn bytes_loop_stops_when_not_writable_and_continues_on_resume() {
    let n = 5 * CHUNK as u64;
    let (mut p, mut t) = exchange_with(&demo(), req("GET", &format!("/bytes/{n}"), &[]), 1);
    // One chunk fills the transport past its mark: the loop stops there.
    assert_eq!(t.body.len(), CHUNK);
    assert!(!t.closed);
    // A resume while still full writes nothing.
    p.resume_writing(&mut t);
    assert_eq!(t.body.len(), CHUNK);
    // Drained: one more chunk each time.
    t.drain();
    p.resume_writing(&mut t);
    assert_eq!(t.body.len(), 2 * CHUNK);
    p.eof_received(&mut t);
    finish(&mut *p, &mut t);
    assert_eq!(t.body.len() as u64, n);
    assert_pattern(&t.body);

    // With room for several chunks it writes until the mark, not beyond one
    // chunk past it.
    let (_p, t) = exchange_with(&demo(), req("GET", "/bytes/1099511627776", &[]), 200_000);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("1099511627776"));
    assert_eq!(t.body.len(), 4 * CHUNK);
    assert!(!t.closed);
}

#[test]
fn bytes_refuses_bad_counts() {
    for bad in [
        "/bytes/",
        "/bytes/abc",
        "/bytes/-1",
        "/bytes/+1",
        "/bytes/1.5",
        "/bytes/1099511627777",
        "/bytes/99999999999999999999999",
    ] {
        let t = get(&demo(), bad, &[]);
        assert_eq!(t.status(), 400, "{bad}");
        assert!(t.closed);
    }
    assert_eq!(get(&demo(), "/bytes", &[]).status(), 404);
}

#[test]
fn head_of_bytes_has_the_length_and_no_body() {
    let t = head(&demo(), "/bytes/100");
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("100"));
    assert!(t.body.is_empty() && t.closed);
}

#[test]
fn status_answers_empty_with_the_code() {
    let t = get(&demo(), "/status/418", &[]);
    assert_eq!(t.status(), 418);
    assert!(t.body.is_empty() && t.closed);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("0"));
    let t = get(&demo(), "/status/204", &[]);
    assert_eq!(t.status(), 204);
    assert_eq!(t.header(header::CONTENT_LENGTH), None);
    for bad in [
        "/status/101",
        "/status/99",
        "/status/600",
        "/status/abc",
        "/status/0200",
        "/status/",
    ] {
        assert_eq!(get(&demo(), bad, &[]).status(), 400, "{bad}");
    }
}

#[test]
fn unknown_paths_and_wrong_methods() {
    let t = get(&demo(), "/nope", &[]);
    assert_eq!(t.status(), 404);
    assert_eq!(body_text(&t), "404 Not Found\n");
    let (mut p, mut t) = exchange_with(&demo(), req("POST", "/", &[]), BIG);
    p.data_received(&mut t, b"ignored");
    assert_eq!(t.status(), 405);
    assert_eq!(t.header(header::ALLOW), Some("GET, HEAD"));
    assert!(t.closed);
    let (_p, t) = exchange_with(&demo(), req("DELETE", "/bytes/1", &[]), BIG);
    assert_eq!(t.status(), 405);
    let h = head(&demo(), "/nope");
    assert_eq!(h.status(), 404);
    assert!(h.body.is_empty());
}

#[test]
fn the_shared_service_routes_like_the_demo() {
    let s = service(None);
    let r = req("GET", "/status/503", &[]);
    let mut p = s.call(&r);
    let mut t = Fake::new(&r, BIG);
    p.connection_made(&mut t);
    assert_eq!(t.status(), 503);
}

#[test]
fn a_refused_head_aborts_with_a_typed_reason() {
    let mut p = demo().call(&req("GET", "/bytes/10", &[]));
    let mut t = strata::testing::MemoryTransport::new();
    p.connection_made(&mut t);
    let why = t.aborted().expect("aborted");
    assert_eq!(why.layer(), Some("http-demo"), "{why:?}");
    assert!(matches!(
        why.error::<DemoError>(),
        Some(DemoError::Head(HttpError::NotHttp))
    ));
    assert!(t.take_written().is_empty());
}

// ---- ranges -------------------------------------------------------------

#[test]
fn range_forms() {
    use ByteRange::*;
    let p = |v| parse_range(v, 100);
    assert_eq!(p("bytes=0-9"), Part { start: 0, end: 9 });
    assert_eq!(p("bytes=10-"), Part { start: 10, end: 99 });
    assert_eq!(p("bytes=-5"), Part { start: 95, end: 99 });
    assert_eq!(p("bytes=-500"), Part { start: 0, end: 99 });
    assert_eq!(p("bytes=90-1000"), Part { start: 90, end: 99 });
    assert_eq!(p("Bytes = 1 - 2 "), Part { start: 1, end: 2 });
    assert_eq!(p("bytes=99-99"), Part { start: 99, end: 99 });
    assert_eq!(
        p("bytes=0-99999999999999999999999"),
        Part { start: 0, end: 99 }
    );
    assert_eq!(p("bytes=100-"), Unsatisfiable);
    assert_eq!(p("bytes=100-200"), Unsatisfiable);
    assert_eq!(p("bytes=99999999999999999999999-"), Unsatisfiable);
    assert_eq!(p("bytes=-0"), Unsatisfiable);
    assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
    assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
    // Ignored: the whole representation.
    for ignored in [
        "bytes=5-1",
        "bytes=0-1,3-4",
        "bytes=-",
        "bytes=a-b",
        "bytes=+1-2",
        "bytes=1",
        "items=0-1",
        "bytes",
        "",
    ] {
        assert_eq!(p(ignored), Full, "{ignored:?}");
    }
}

// ---- files ----------------------------------------------------------------

/// A fresh directory tree under the system temp dir, removed on drop:
/// `root/` (served) holds files and directories; `secret` sits beside it.
struct Tree {
    top: PathBuf,
    root: PathBuf,
}

const CONTENT: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl Tree {
    fn new(tag: &str) -> Tree {
        let top =
            std::env::temp_dir().join(format!("strata-http-demo-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let root = top.join("root");
        std::fs::create_dir_all(root.join("site")).unwrap();
        std::fs::create_dir_all(root.join("plain")).unwrap();
        std::fs::write(top.join("secret"), b"TOP SECRET").unwrap();
        std::fs::write(root.join("a.txt"), CONTENT).unwrap();
        std::fs::write(root.join("name with space.txt"), b"spaced").unwrap();
        std::fs::write(root.join("site/index.html"), b"<p>site</p>").unwrap();
        std::fs::write(root.join("plain/x.bin"), b"x").unwrap();
        std::fs::write(root.join("plain/<b>&.txt"), b"odd").unwrap();
        std::fs::create_dir(root.join("plain/sub")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(top.join("secret"), root.join("link")).unwrap();
        Tree { top, root }
    }

    fn demo(&self) -> Demo {
        Demo::new(Some(self.root.clone()))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.top);
    }
}

#[test]
fn files_are_served_with_type_length_date_and_ranges() {
    let tree = Tree::new("files");
    let d = tree.demo();
    let t = get(&d, "/a.txt", &[]);
    assert_eq!(t.status(), 200);
    assert_eq!(t.body, CONTENT);
    assert_eq!(t.header(header::CONTENT_TYPE), Some("text/plain"));
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("36"));
    assert_eq!(t.header(header::ACCEPT_RANGES), Some("bytes"));
    let modified = t.header(header::LAST_MODIFIED).unwrap().to_string();
    assert!(httpdate::parse_http_date(&modified).is_ok(), "{modified}");

    let t = get(&d, "/name%20with%20space.txt", &[]);
    assert_eq!((t.status(), &t.body[..]), (StatusCode::OK, &b"spaced"[..]));

    let h = head(&d, "/a.txt");
    assert_eq!(h.status(), 200);
    assert_eq!(h.header(header::CONTENT_LENGTH), Some("36"));
    assert!(h.body.is_empty() && h.closed);
}

#[test]
fn file_ranges_in_every_form() {
    let tree = Tree::new("ranges");
    let d = tree.demo();
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=30-", 30, 35),
        ("bytes=-6", 30, 35),
        ("bytes=-100", 0, 35),
        ("bytes=10-1000", 10, 35),
    ] {
        let t = get(&d, "/a.txt", &[("range", range)]);
        assert_eq!(t.status(), 206, "{range}");
        assert_eq!(t.body, &CONTENT[start..=end], "{range}");
        assert_eq!(
            t.header(header::CONTENT_RANGE),
            Some(&*format!("bytes {start}-{end}/36")),
            "{range}"
        );
        assert_eq!(
            t.header(header::CONTENT_LENGTH),
            Some(&*(end - start + 1).to_string())
        );
    }
    for range in ["bytes=36-", "bytes=-0", "bytes=100-200"] {
        let t = get(&d, "/a.txt", &[("range", range)]);
        assert_eq!(t.status(), 416, "{range}");
        assert_eq!(t.header(header::CONTENT_RANGE), Some("bytes */36"));
    }
    // Several ranges, an unknown unit, a broken spec: the whole file.
    for range in ["bytes=0-1,4-5", "lines=0-1", "bytes=9-2"] {
        let t = get(&d, "/a.txt", &[("range", range)]);
        assert_eq!(t.status(), 200, "{range}");
        assert_eq!(t.body, CONTENT);
    }
    // HEAD ignores Range.
    let (mut p, mut t) = exchange_with(&d, req("HEAD", "/a.txt", &[("range", "bytes=0-1")]), BIG);
    p.eof_received(&mut t);
    assert_eq!(t.status(), 200);
    assert_eq!(t.header(header::CONTENT_LENGTH), Some("36"));
    assert!(t.body.is_empty());
}

#[test]
fn if_range_must_match_last_modified() {
    let tree = Tree::new("ifrange");
    let d = tree.demo();
    let modified = get(&d, "/a.txt", &[])
        .header(header::LAST_MODIFIED)
        .unwrap()
        .to_string();
    let t = get(
        &d,
        "/a.txt",
        &[("range", "bytes=0-1"), ("if-range", &modified)],
    );
    assert_eq!(t.status(), 206);
    assert_eq!(t.body, b"01");
    for stale in ["Thu, 01 Jan 1970 00:00:00 GMT", "\"an-etag\""] {
        let t = get(&d, "/a.txt", &[("range", "bytes=0-1"), ("if-range", stale)]);
        assert_eq!(t.status(), 200, "{stale}");
        assert_eq!(t.body, CONTENT);
    }
}

#[test]
fn traversal_attempts_are_refused() {
    let tree = Tree::new("traversal");
    let d = tree.demo();
    for attack in [
        "/../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/site/../../secret",
        "/site/%2e%2e/%2e%2e/secret",
        "/..%2fsecret",
        "/%2e%2e%2fsecret",
        "/%2Fetc%2Fpasswd",
        "/..%5csecret",
        "/a.txt%00.html",
        "/link",
    ] {
        let t = get(&d, attack, &[]);
        assert!(
            t.status() == 403 || t.status() == 404,
            "{attack}: {}",
            t.status()
        );
        assert!(!body_text(&t).contains("SECRET"), "{attack}");
    }
    assert_eq!(get(&d, "/%ff", &[]).status(), 400);
    assert_eq!(get(&d, "/missing.txt", &[]).status(), 404);
    assert_eq!(
        decode_path("/a/./b//c"),
        Ok(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(decode_path("/a/.."), Err(StatusCode::FORBIDDEN));
}

#[test]
fn directories_redirect_then_serve_index_or_a_listing() {
    let tree = Tree::new("dirs");
    let d = tree.demo();
    let t = get(&d, "/site", &[]);
    assert_eq!(t.status(), 301);
    assert_eq!(t.header(header::LOCATION), Some("/site/"));
    // The target is rebuilt from the decoded path: never `//host`.
    let t = get(&d, "//plain", &[]);
    assert_eq!(t.header(header::LOCATION), Some("/plain/"));

    let t = get(&d, "/site/", &[]);
    assert_eq!(t.status(), 200);
    assert_eq!(t.body, b"<p>site</p>");
    assert_eq!(t.header(header::CONTENT_TYPE), Some("text/html"));

    let t = get(&d, "/plain/", &[]);
    assert_eq!(t.status(), 200);
    let page = body_text(&t);
    assert!(page.contains("<a href=\"x.bin\">x.bin</a>"), "{page}");
    assert!(page.contains("<a href=\"sub/\">sub/</a>"), "{page}");
    assert!(page.contains("<a href=\"../\">"), "{page}");
    assert!(
        page.contains("<a href=\"%3Cb%3E%26.txt\">&lt;b&gt;&amp;.txt</a>"),
        "{page}"
    );
}

#[test]
fn root_index_page_lists_files_and_other_methods_get_405() {
    let tree = Tree::new("rootindex");
    let d = tree.demo();
    let t = get(&d, "/", &[]);
    let page = body_text(&t);
    assert!(page.contains("<a href=\"a.txt\">a.txt</a>"), "{page}");
    assert!(page.contains("/echo"), "{page}");
    let (_p, t) = exchange_with(&d, req("POST", "/a.txt", &[]), BIG);
    assert_eq!(t.status(), 405);
    assert_eq!(t.header(header::ALLOW), Some("GET, HEAD"));
    // Routes win over files.
    assert_eq!(get(&d, "/hello", &[]).body, HELLO);
}

#[test]
fn large_files_are_read_a_chunk_at_a_time() {
    let tree = Tree::new("large");
    let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
    std::fs::write(tree.root.join("big.bin"), &data).unwrap();
    let d = tree.demo();
    let (mut p, mut t) = exchange_with(&d, req("GET", "/big.bin", &[]), 1);
    assert_eq!(t.body.len(), CHUNK, "one chunk, then not writable");
    p.resume_writing(&mut t);
    assert_eq!(t.body.len(), CHUNK, "still full: nothing read");
    finish(&mut *p, &mut t);
    assert_eq!(t.body, data);
    assert_eq!(
        t.header(header::CONTENT_TYPE),
        Some("application/octet-stream")
    );

    // A range deep in the file, across a chunk boundary.
    let (start, end) = (CHUNK - 3, 2 * CHUNK + 5);
    let t = get(
        &d,
        "/big.bin",
        &[("range", &format!("bytes={start}-{end}"))],
    );
    assert_eq!(t.status(), 206);
    assert_eq!(t.body, &data[start..=end]);
}

#[test]
fn a_file_that_shrinks_aborts_the_response() {
    let tree = Tree::new("shrink");
    let path = tree.root.join("s.bin");
    std::fs::write(&path, vec![7u8; 2 * CHUNK]).unwrap();
    let d = tree.demo();
    let (mut p, mut t) = exchange_with(&d, req("GET", "/s.bin", &[]), 1);
    assert_eq!(t.body.len(), CHUNK);
    std::fs::write(&path, b"short").unwrap();
    t.drain();
    p.resume_writing(&mut t);
    let why = t.aborted.as_ref().expect("aborted");
    assert!(why.to_string().contains("reading"), "{why}");
    assert!(!t.closed);
}

#[test]
fn responses_go_out_head_first() {
    // Every route answers with a head before any body byte.
    let tree = Tree::new("order");
    let d = tree.demo();
    for uri in [
        "/",
        "/hello",
        "/bytes/10",
        "/status/200",
        "/a.txt",
        "/plain/",
        "/nope",
    ] {
        let t = get(&d, uri, &[]);
        assert!(!t.wrote_before_head, "{uri}");
    }
}
