//! The `proxy` row of the scheme table: the PROXY protocol
//! (`strata::proxy_protocol`) over a stream. A listener (`proxy+tcp://`
//! behind HAProxy's `send-proxy`/`send-proxy-v2`) reads the header and
//! reports the client's address; a client sends a header with its own
//! addresses (`proxy.send`, v2 by default).

use std::sync::Arc;
use std::time::Duration;

use strata::endpoint::{Endpoint, SchemeSpec};
use strata::proxy_protocol::{ProxyConfig, ProxyProtocol, ProxySender, ProxyVersion, Versions};
use strata::StreamProtocol;

use crate::error::DriverError;
use crate::layer::{LayerCx, LayerWrap, Role};

/// Builds the `proxy` layer of an endpoint: its options are read and
/// checked here, once.
pub(crate) fn over_stream(cx: &mut LayerCx<'_>) -> Result<LayerWrap, DriverError> {
    match cx.role {
        Role::Server => {
            let cfg = receive_config(cx.ep)?;
            Ok(Arc::new(move |inner| {
                Box::new(ProxyProtocol::new(inner, cfg)) as Box<dyn StreamProtocol>
            }))
        }
        Role::Client => {
            let version = send_version(cx.ep)?;
            Ok(Arc::new(move |inner| {
                Box::new(ProxySender::own_addresses(inner, version)) as Box<dyn StreamProtocol>
            }))
        }
    }
}

/// A `proxy.*` option, checked against the bounds the parser enforces (an
/// `Endpoint` built by hand skips the parser).
fn option<'e>(
    ep: &'e Endpoint,
    key: &str,
    expected: &'static str,
) -> Result<Option<&'e str>, DriverError> {
    let Some(value) = ep.option("proxy", key) else {
        return Ok(None);
    };
    if SchemeSpec::PROXY
        .value_rule(key)
        .is_some_and(|rule| !rule.check(value))
    {
        return Err(DriverError::BadOption {
            layer: "proxy".into(),
            key: key.into(),
            value: value.into(),
            expected,
        });
    }
    Ok(Some(value))
}

/// The receiving side's configuration: `proxy.versions`, `proxy.timeout`
/// (milliseconds), `proxy.max_header` (bytes).
pub(crate) fn receive_config(ep: &Endpoint) -> Result<ProxyConfig, DriverError> {
    let mut cfg = ProxyConfig::default();
    if let Some(v) = option(ep, "versions", "1, 2 or 1,2")? {
        // Checked against the rule above; every word it admits parses.
        cfg.versions = v.parse::<Versions>().unwrap_or(Versions::ANY);
    }
    let ms = "milliseconds from 1 to 3600000";
    if let Some(v) = option(ep, "timeout", ms)? {
        cfg.timeout = Duration::from_millis(v.parse().unwrap_or(1));
    }
    let bytes = "a byte count from 216 to 65535";
    if let Some(v) = option(ep, "max_header", bytes)? {
        cfg.max_v2_len = v.parse().unwrap_or(cfg.max_v2_len);
    }
    Ok(cfg)
}

/// The version a client sends: `proxy.send`, 2 by default.
fn send_version(ep: &Endpoint) -> Result<ProxyVersion, DriverError> {
    Ok(match option(ep, "send", "1 or 2")? {
        Some("1") => ProxyVersion::V1,
        _ => ProxyVersion::V2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::endpoint::LayerOption;

    #[test]
    fn options_make_the_config_and_hand_made_endpoints_are_checked() {
        let ep = Endpoint::parse(
            "proxy+tcp://127.0.0.1:1?proxy.versions=2&proxy.timeout=250&proxy.max_header=300",
        )
        .unwrap();
        let cfg = receive_config(&ep).unwrap();
        assert_eq!(cfg.versions, Versions::V2_ONLY);
        assert_eq!(cfg.timeout, Duration::from_millis(250));
        assert_eq!(cfg.max_v2_len, 300);
        assert_eq!(send_version(&ep).unwrap(), ProxyVersion::V2);
        // The defaults `strata endpoints` prints are the layer's.
        let plain = Endpoint::parse("proxy+tcp://127.0.0.1:1").unwrap();
        let dflt = receive_config(&plain).unwrap();
        assert_eq!(dflt, ProxyConfig::default());
        let help = |k| SchemeSpec::PROXY.help_for(k).unwrap().default;
        assert_eq!(help("timeout"), dflt.timeout.as_millis().to_string());
        assert_eq!(help("max_header"), dflt.max_v2_len.to_string());
        assert_eq!(help("versions").parse::<Versions>(), Ok(dflt.versions));
        assert_eq!(help("send"), "2");
        for (key, value) in [
            ("versions", "3"),
            ("timeout", "0"),
            ("max_header", "100"),
            ("send", "v9"),
        ] {
            let mut bad = Endpoint::parse("proxy+tcp://127.0.0.1:1").unwrap();
            bad.options.push(LayerOption {
                layer: "proxy".into(),
                key: key.into(),
                value: value.into(),
            });
            let r = receive_config(&bad)
                .map(|_| ())
                .and(send_version(&bad).map(|_| ()));
            assert!(
                matches!(r, Err(DriverError::BadOption { .. })),
                "{key}={value}"
            );
        }
    }
}
