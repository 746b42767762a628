//! [`AltSvc`]: a service wrapper that advertises an alternative service
//! (RFC 7838), the way `strata serve` points HTTP/1.1 and HTTP/2 clients
//! on its TLS endpoints at its HTTP/3 endpoint (`Alt-Svc: h3=":8443"`).
//!
//! The wrapped request protocol sees its transport through a thin view
//! that adds the header to every final response head that does not carry
//! one already; everything else passes through unchanged.

use http::header::{HeaderValue, ALT_SVC};
use strata::http::{request, HttpControl, HttpError, Service, SharedService};
use strata::{Call, Introspect, StreamProtocol, StreamTransport};

/// A service that adds `Alt-Svc: VALUE` to the final responses of another.
///
/// ```
/// use strata::http::Service;
/// use strata_cli::apps::http::{service, AltSvc};
/// let svc = AltSvc::h3(service(None), 8443);
/// assert_eq!(svc.value(), "h3=\":8443\"; ma=86400");
/// let req = http::Request::get("/hello").body(()).unwrap().into_parts().0;
/// let _protocol = svc.call(&req);
/// ```
pub struct AltSvc {
    inner: SharedService,
    value: HeaderValue,
}

impl AltSvc {
    /// Advertises HTTP/3 on `port` of the same host, for a day.
    pub fn h3(inner: SharedService, port: u16) -> AltSvc {
        // Invariant: digits, quotes, `=`, `:`, `;` and spaces are valid
        // header-value bytes.
        let value = HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400"))
            .unwrap_or_else(|_| HeaderValue::from_static("clear"));
        AltSvc { inner, value }
    }

    /// The header's value.
    pub fn value(&self) -> &str {
        self.value.to_str().unwrap_or("")
    }
}

impl Service for AltSvc {
    fn call(&self, req: &request::Parts) -> Box<dyn StreamProtocol> {
        Box::new(Advertise {
            inner: self.inner.call(req),
            value: self.value.clone(),
        })
    }
}

/// A request protocol whose response heads carry the header.
struct Advertise {
    inner: Box<dyn StreamProtocol>,
    value: HeaderValue,
}

impl Advertise {
    fn call(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut Box<dyn StreamProtocol>, &mut dyn StreamTransport),
    ) {
        let mut view = View {
            lower: t,
            value: &self.value,
        };
        f(&mut self.inner, &mut view)
    }
}

impl StreamProtocol for Advertise {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.call(t, |p, v| p.data_received(v, data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.call(t, |p, v| p.eof_received(v))
    }
    strata::forward_to_inner!(inner via call);
}

struct View<'a> {
    lower: &'a mut dyn StreamTransport,
    value: &'a HeaderValue,
}

impl Introspect for View<'_> {
    fn name(&self) -> &'static str {
        "alt-svc"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for View<'_> {
    strata::forward_to_lower!(lower: write, write_bytes, write_eof, close, abort,
        pause_reading, resume_reading, buffered, writable, now, waker, request_swap);

    fn control(&mut self, mut call: Call<'_>) {
        let lower = &mut *self.lower;
        let value = self.value;
        let answered = call.answer(|msg: HttpControl| {
            let msg = match msg {
                HttpControl::Respond(mut parts) => {
                    if !parts.status.is_informational() && !parts.headers.contains_key(ALT_SVC) {
                        parts.headers.insert(ALT_SVC, value.clone());
                    }
                    HttpControl::Respond(parts)
                }
                other => other,
            };
            lower.ask(msg).unwrap_or(Err(HttpError::NotHttp))
        });
        if !answered {
            self.lower.control(call);
        }
    }
}
