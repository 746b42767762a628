//! Shared by the tls_* tests: certificates made with rcgen at test time,
//! configurations from the core's builders (`ServerTls`, `Identity`), a
//! recording protocol, a record-tampering layer,
//! and a layer that closes where its protocol aborts (a peer that answers an
//! alert with FIN rather than RST).
#![allow(dead_code)]

mod gentle;
// Not every test file uses it.
#[allow(unused_imports)]
pub use gentle::Gentle;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use strata::tls::{Identity, ServerTls, TlsConfig, TlsError, TlsInfo};
use strata::{Close, HalfClose, Introspect, StreamProtocol, StreamTransport, WakeRoute};

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate and its key, and the identity they make.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    key: Vec<u8>,
    pub id: Identity,
}

impl Leaf {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

/// A test CA that issues leaf certificates.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn roots(&self) -> RootCertStore {
        let mut r = RootCertStore::empty();
        r.add(self.der()).unwrap();
        r
    }

    /// A leaf for `names`, valid from 1975 to 4096.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    /// A leaf for `names` that expired in 2001.
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    fn leaf_with(&self, names: &[&str], f: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "strata test leaf");
        f(&mut p);
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Leaf {
            cert: cert.der().clone(),
            key: key.serialize_der(),
            id: Identity::from_der(vec![cert.der().clone()], der).unwrap(),
        }
    }
}

pub const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
pub const ALL: &[&SupportedProtocolVersion] = rustls::ALL_VERSIONS;

/// A server presenting `leaf`; without tickets, as rustls' own default (the
/// resumption tests turn them on).
pub fn server_config(
    leaf: &Leaf,
    alpn: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
) -> ServerConfig {
    let tls = ServerTls::new(&leaf.id).alpn(alpn).versions(versions);
    tls.tickets(false).build_rustls().unwrap()
}

pub fn client_config(
    roots: RootCertStore,
    alpn: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
) -> ClientConfig {
    let mut c = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    c
}

pub fn server(cfg: ServerConfig) -> TlsConfig {
    TlsConfig::server(Arc::new(cfg))
}

pub fn client(cfg: ClientConfig, name: &str) -> TlsConfig {
    TlsConfig::client(Arc::new(cfg), name.to_owned().try_into().unwrap())
}

/// The TLS error a close carries, if any.
pub fn tls_error(why: &Close) -> Option<&TlsError> {
    match why.layer() {
        Some("tls") => why.error::<TlsError>(),
        _ => None,
    }
}

/// What a [`Probe`] saw.
#[derive(Default)]
pub struct Record {
    pub events: Vec<String>,
    pub data: Vec<u8>,
    pub lost: Option<Close>,
    /// TlsInfo as seen at the last callback that had it.
    pub info: Option<TlsInfo>,
    /// HalfClose as seen at each callback, in order.
    pub half_close: Vec<bool>,
    pub chain: Vec<&'static str>,
}

#[derive(Clone, Default)]
pub struct Rec(pub Arc<Mutex<Record>>);

impl Rec {
    pub fn get<R>(&self, f: impl FnOnce(&Record) -> R) -> R {
        f(&self.0.lock().unwrap())
    }
    pub fn lost(&self) -> Option<Close> {
        self.get(|r| r.lost.clone())
    }
    pub fn data(&self) -> Vec<u8> {
        self.get(|r| r.data.clone())
    }
    pub fn events(&self) -> Vec<String> {
        self.get(|r| r.events.clone())
    }
    fn see(&self, what: &str, t: &dyn StreamTransport) {
        let mut r = self.0.lock().unwrap();
        r.events.push(what.to_owned());
        if let Some(i) = t.get::<TlsInfo>() {
            r.info = Some(i.clone());
        }
        r.half_close.push(t.get::<HalfClose>().is_some_and(|h| h.0));
        r.chain = t.layer_chain();
    }
}

type Hook = Box<dyn FnMut(&mut dyn StreamTransport) + Send>;
type DataHook = Box<dyn FnMut(&mut dyn StreamTransport, &[u8]) + Send>;

/// A protocol that records what it sees and runs the hooks it is given.
/// Without an `eof` hook it closes on EOF.
pub struct Probe {
    pub rec: Rec,
    made: Option<Hook>,
    data: Option<DataHook>,
    eof: Option<Hook>,
}

impl Probe {
    pub fn new(rec: &Rec) -> Probe {
        Probe {
            rec: rec.clone(),
            made: None,
            data: None,
            eof: None,
        }
    }
    pub fn made(mut self, f: impl FnMut(&mut dyn StreamTransport) + Send + 'static) -> Self {
        self.made = Some(Box::new(f));
        self
    }
    pub fn data(mut self, f: impl FnMut(&mut dyn StreamTransport, &[u8]) + Send + 'static) -> Self {
        self.data = Some(Box::new(f));
        self
    }
    pub fn eof(mut self, f: impl FnMut(&mut dyn StreamTransport) + Send + 'static) -> Self {
        self.eof = Some(Box::new(f));
        self
    }
}

impl StreamProtocol for Probe {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.rec.see("made", t);
        if let Some(f) = &mut self.made {
            f(t);
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.rec.see("data", t);
        self.rec.0.lock().unwrap().data.extend_from_slice(data);
        if let Some(f) = &mut self.data {
            f(t, data);
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.rec.see("eof", t);
        match &mut self.eof {
            Some(f) => f(t),
            None => t.close(),
        }
    }
    fn connection_lost(&mut self, why: &Close) {
        let mut r = self.rec.0.lock().unwrap();
        r.events.push("lost".into());
        r.lost = Some(why.clone());
    }
}

/// A pass-through layer that flips one bit in the payload of the first
/// application-data record (content type 23) written after it is armed.
pub struct Tamper<P> {
    inner: P,
    st: TamperState,
}

pub struct TamperState {
    pub armed: Arc<AtomicBool>,
    hdr: Vec<u8>,
    remaining: usize,
    target: bool,
    pub done: Arc<AtomicBool>,
}

impl<P> Tamper<P> {
    pub fn new(inner: P, armed: Arc<AtomicBool>, done: Arc<AtomicBool>) -> Self {
        Tamper {
            inner,
            st: TamperState {
                armed,
                hdr: Vec::new(),
                remaining: 0,
                target: false,
                done,
            },
        }
    }
}

impl TamperState {
    fn process(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let mut i = 0;
        while i < out.len() {
            if self.remaining == 0 {
                self.hdr.push(out[i]);
                i += 1;
                if self.hdr.len() == 5 {
                    self.remaining = u16::from_be_bytes([self.hdr[3], self.hdr[4]]) as usize;
                    self.target = self.hdr[0] == 23
                        && self.armed.load(Ordering::SeqCst)
                        && !self.done.load(Ordering::SeqCst);
                    self.hdr.clear();
                }
            } else {
                let n = self.remaining.min(out.len() - i);
                if self.target {
                    out[i] ^= 0x01;
                    self.target = false;
                    self.done.store(true, Ordering::SeqCst);
                }
                i += n;
                self.remaining -= n;
            }
        }
        out
    }
}

struct TamperView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut TamperState,
}

impl Introspect for TamperView<'_> {
    fn name(&self) -> &'static str {
        "tamper"
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for TamperView<'_> {
    fn write(&mut self, data: &[u8]) {
        let out = self.st.process(data);
        self.below.write(&out);
    }
    fn write_eof(&mut self) {
        self.below.write_eof()
    }
    fn close(&mut self) {
        self.below.close()
    }
    fn abort(&mut self, why: Close) {
        self.below.abort(why)
    }
    fn pause_reading(&mut self) {
        self.below.pause_reading()
    }
    fn resume_reading(&mut self) {
        self.below.resume_reading()
    }
    fn buffered(&self) -> usize {
        self.below.buffered()
    }
    fn writable(&self) -> bool {
        self.below.writable()
    }
    fn now(&self) -> std::time::Instant {
        self.below.now()
    }
    fn waker(&self) -> strata::Wake {
        self.below.waker()
    }
}

impl<P: StreamProtocol> Tamper<P> {
    fn with<R>(
        &mut self,
        t: &mut dyn StreamTransport,
        f: impl FnOnce(&mut P, &mut dyn StreamTransport) -> R,
    ) -> R {
        let mut v = TamperView {
            below: t,
            st: &mut self.st,
        };
        f(&mut self.inner, &mut v)
    }
}

impl<P: StreamProtocol> StreamProtocol for Tamper<P> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.connection_made(v))
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.with(t, |p, v| p.data_received(v, data))
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.eof_received(v))
    }
    fn connection_lost(&mut self, why: &Close) {
        self.inner.connection_lost(why)
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.pause_writing(v))
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.resume_writing(v))
    }
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.inner.next_deadline()
    }
    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.on_deadline(v))
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) {
        self.with(t, |p, v| p.on_wake(v, route))
    }
    fn on_shutdown(&mut self, t: &mut dyn StreamTransport) {
        self.with(t, |p, v| p.on_shutdown(v))
    }
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}
