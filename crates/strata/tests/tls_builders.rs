//! TLS with the core's sans-IO builders only (no driver, no rustls built by
//! hand): a generated identity, a client trusting its PEM, ALPN agreed in
//! memory; client certificates, the insecure mode, and refusals.

use std::time::Duration;

use strata::testing::{Pump, RunOutcome};
use strata::tls::{
    parse_alpn, roots_from_pem, ClientTls, Identity, ServerTls, Tls, TlsBuildError, TlsConfig,
    TlsInfo,
};
use strata::{Close, StreamProtocol, StreamTransport};

const NAME: &str = "example.test";

/// Sends `hello` once the handshake is done, keeps what it reads, closes on
/// EOF, and remembers what TLS agreed.
#[derive(Default)]
struct App {
    greet: bool,
    got: Vec<u8>,
    info: Option<TlsInfo>,
    lost: Option<Close>,
}

impl StreamProtocol for App {
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.info = t.get::<TlsInfo>().cloned();
        if std::mem::take(&mut self.greet) {
            t.write(b"hello");
            t.close();
        }
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.info = t.get::<TlsInfo>().cloned();
        self.got.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.lost = Some(why.clone());
    }
}

/// Runs a client (side a) against a server (side b); returns the pump.
fn run(client: &TlsConfig, server: &TlsConfig) -> Pump {
    let greeter = App {
        greet: true,
        ..App::default()
    };
    let a = Tls::new(greeter, client).unwrap();
    let b = Tls::new(App::default(), server).unwrap();
    let mut pump = Pump::new(Box::new(a), Box::new(b));
    assert_eq!(pump.run(Duration::from_secs(5)), RunOutcome::Finished);
    pump
}

fn app(pump: &Pump, server: bool) -> &App {
    let side = if server { pump.b() } else { pump.a() };
    side.protocol::<App>().expect("the app under TLS")
}

#[test]
fn a_self_signed_identity_and_a_client_trusting_its_pem_agree_on_alpn() {
    let id = Identity::self_signed(&[NAME]).unwrap();
    let server = ServerTls::new(&id)
        .alpn(["h2", "http/1.1"])
        .build()
        .unwrap();
    let roots = roots_from_pem(id.certificate_pem().as_bytes()).unwrap();
    let client = ClientTls::new(NAME)
        .unwrap()
        .roots(roots)
        .alpn(parse_alpn("http/1.1,h2").unwrap())
        .build()
        .unwrap();
    let pump = run(&client, &server);
    let (c, s) = (app(&pump, false), app(&pump, true));
    assert_eq!(s.got, b"hello");
    assert!(c.lost.as_ref().unwrap().is_clean() && s.lost.as_ref().unwrap().is_clean());
    let (ci, si) = (c.info.as_ref().unwrap(), s.info.as_ref().unwrap());
    // The server's preference wins among what the client offers.
    assert_eq!(ci.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(si.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(si.server_name.as_deref(), Some(NAME));
    assert_eq!(ci.peer_certificates, vec![id.certificate_der().to_vec()]);
}

#[test]
fn an_identity_from_pem_serves_and_a_client_certificate_is_checked() {
    let made = rcgen::generate_simple_self_signed(vec![NAME.into()]).unwrap();
    let server_id = Identity::from_pem(
        made.cert.pem().as_bytes(),
        made.key_pair.serialize_pem().as_bytes(),
    )
    .unwrap();
    let client_id = Identity::self_signed(&["client.test"]).unwrap();
    let server = ServerTls::new(&server_id)
        .client_roots(roots_from_pem(client_id.certificate_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let trusting =
        |c: ClientTls| c.roots(roots_from_pem(server_id.certificate_pem().as_bytes()).unwrap());
    // With its certificate the client gets in, and the server sees it.
    let client = trusting(ClientTls::new(NAME).unwrap())
        .identity(&client_id)
        .build()
        .unwrap();
    let pump = run(&client, &server);
    let s = app(&pump, true);
    assert_eq!(s.got, b"hello");
    let peer = &s.info.as_ref().unwrap().peer_certificates;
    assert_eq!(peer, &vec![client_id.certificate_der().to_vec()]);

    // Without one it is refused.
    let bare = trusting(ClientTls::new(NAME).unwrap()).build().unwrap();
    let pump = run(&bare, &server);
    let s = app(&pump, true);
    assert!(s.got.is_empty());
    let why = s.lost.as_ref().unwrap();
    assert!(why.to_string().contains("certificate"), "{why}");
}

#[test]
fn the_insecure_mode_accepts_a_certificate_no_root_vouches_for() {
    let id = Identity::localhost().unwrap();
    let server = ServerTls::new(&id).build().unwrap();
    let strict = ClientTls::new("localhost")
        .unwrap()
        .roots(roots_from_pem(Identity::localhost().unwrap().certificate_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let pump = run(&strict, &server);
    assert!(app(&pump, true).got.is_empty(), "refused");
    let why = app(&pump, false).lost.as_ref().unwrap();
    assert!(
        why.to_string().contains("invalid peer certificate"),
        "{why}"
    );

    let insecure = ClientTls::new("localhost")
        .unwrap()
        .insecure()
        .build()
        .unwrap();
    let pump = run(&insecure, &server);
    assert_eq!(app(&pump, true).got, b"hello");
}

#[test]
fn bad_inputs_are_typed_errors() {
    assert!(matches!(
        ClientTls::new("localhost").unwrap().build(),
        Err(TlsBuildError::NoTrust)
    ));
    assert!(matches!(
        ClientTls::new("bad name!"),
        Err(TlsBuildError::BadServerName(_))
    ));
    let long = vec![b'x'; 256];
    let id = Identity::localhost().unwrap();
    assert!(matches!(
        ServerTls::new(&id).alpn([long]).build(),
        Err(TlsBuildError::BadAlpn)
    ));
    assert!(matches!(parse_alpn(""), Err(TlsBuildError::BadAlpn)));
    assert!(matches!(
        roots_from_pem(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"),
        Err(TlsBuildError::BadPem(_))
    ));
    assert!(matches!(
        Identity::from_pem(id.certificate_pem().as_bytes(), b"nothing"),
        Err(TlsBuildError::NoKey)
    ));
}
