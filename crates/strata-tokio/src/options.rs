//! The `tcp.*` options of an endpoint, checked against the bounds the
//! parser enforces (an `Endpoint` built by hand skips the parser).

use strata::endpoint::{Endpoint, SchemeSpec};

use crate::config::ListenConfig;
use crate::connect::Buffers;
use crate::error::DriverError;

pub(crate) fn bool_option(ep: &Endpoint, key: &str) -> Result<Option<bool>, DriverError> {
    tcp_option(ep, key, "true or false")
}

/// A `tcp.*` option, checked against the bounds the parser enforces (an
/// `Endpoint` built by hand skips the parser) and parsed as `T`.
pub(crate) fn tcp_option<T: std::str::FromStr>(
    ep: &Endpoint,
    key: &str,
    expected: &'static str,
) -> Result<Option<T>, DriverError> {
    let Some(value) = ep.option("tcp", key) else {
        return Ok(None);
    };
    let in_bounds = SchemeSpec::TCP
        .value_rule(key)
        .is_none_or(|rule| rule.check(value));
    match value.parse::<T>() {
        Ok(v) if in_bounds => Ok(Some(v)),
        _ => Err(DriverError::BadOption {
            layer: "tcp".into(),
            key: key.into(),
            value: value.into(),
            expected,
        }),
    }
}

/// What `tcp.sndbuf` and `tcp.rcvbuf` say must be expected.
const BUFFER_EXPECTED: &str = "a byte count from 4096 to 67108864";

/// `tcp.sndbuf` and `tcp.rcvbuf`.
pub(crate) fn buffers(ep: &Endpoint) -> Result<Buffers, DriverError> {
    Ok(Buffers {
        send: tcp_option(ep, "sndbuf", BUFFER_EXPECTED)?,
        recv: tcp_option(ep, "rcvbuf", BUFFER_EXPECTED)?,
    })
}

/// The listener options of `cfg`, overridden by the endpoint's `tcp.*` ones.
pub(crate) fn listen_options(
    ep: &Endpoint,
    mut cfg: ListenConfig,
) -> Result<ListenConfig, DriverError> {
    if let Some(v) = bool_option(ep, "nodelay")? {
        cfg.nodelay = v;
    }
    if let Some(v) = bool_option(ep, "reuseport")? {
        cfg.reuse_port = v;
    }
    if let Some(v) = tcp_option(ep, "backlog", "a number of connections from 1 to 65535")? {
        cfg.backlog = v;
    }
    let bufs = buffers(ep)?;
    cfg.send_buffer = bufs.send.or(cfg.send_buffer);
    cfg.recv_buffer = bufs.recv.or(cfg.recv_buffer);
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_options_override_the_listen_config() {
        let ep = Endpoint::parse(
            "tcp://127.0.0.1:1?tcp.nodelay=false&tcp.backlog=7&tcp.reuseport=true&tcp.sndbuf=65536",
        )
        .unwrap();
        let dflt = ListenConfig {
            recv_buffer: Some(8192),
            ..ListenConfig::default()
        };
        let cfg = listen_options(&ep, dflt).unwrap();
        assert!(!cfg.nodelay && cfg.reuse_port);
        assert_eq!(cfg.backlog, 7);
        assert_eq!(
            (cfg.send_buffer, cfg.recv_buffer),
            (Some(65536), Some(8192))
        );
        // An endpoint built by hand skips the parser: the driver checks the
        // same bounds.
        for (key, value) in [
            ("backlog", "lots"),
            ("backlog", "0"),
            ("sndbuf", "18446744073709551615"),
            ("rcvbuf", "1"),
        ] {
            let mut bad = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
            bad.options.push(strata::endpoint::LayerOption {
                layer: "tcp".into(),
                key: key.into(),
                value: value.into(),
            });
            assert!(matches!(
                listen_options(&bad, ListenConfig::default()),
                Err(DriverError::BadOption { .. })
            ));
        }
    }
}
