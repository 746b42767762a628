//! The parser: `scheme-chain "://" target [ "?" query ]`, checked against a
//! [`SchemeRegistry`]. Every error carries the byte offset of its cause.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::escape::{decode, source_pos};
use super::{
    Endpoint, EndpointError, EndpointErrorKind as K, Host, LayerOption, SchemeKind, SchemeRegistry,
    SchemeSpec, Target, TargetKind,
};

/// Longest DNS name accepted, in bytes (RFC 1035, without the root dot).
pub const MAX_HOST_LEN: usize = 253;
/// Longest DNS label accepted, in bytes (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

type PResult<T> = Result<T, (usize, K)>;

/// One scheme of the chain: where it starts in the input, its name, its spec.
struct Segment<'r> {
    pos: usize,
    name: String,
    spec: &'r SchemeSpec,
}

pub(super) fn parse(input: &str, reg: &SchemeRegistry) -> Result<Endpoint, EndpointError> {
    parse_inner(input, reg).map_err(|(pos, kind)| EndpointError {
        input: input.to_owned(),
        pos,
        kind,
    })
}

fn parse_inner(s: &str, reg: &SchemeRegistry) -> PResult<Endpoint> {
    if s.is_empty() {
        return Err((0, K::Empty));
    }
    let chain_end = scheme_end(s)?;
    let segs = segments(s, chain_end, reg)?;
    check_chain(&segs)?;
    let start = chain_end + 3;
    let bottom = segs.last().map(|g| g.spec.kind);
    let (target, end) = match bottom {
        Some(SchemeKind::Transport {
            target: TargetKind::Path,
            ..
        }) => path_target(s, start)?,
        _ => host_port(s, start)?,
    };
    let options = match s.as_bytes().get(end) {
        Some(b'?') => query(s, end + 1, &segs)?,
        _ => Vec::new(),
    };
    Ok(Endpoint {
        layers: segs.into_iter().map(|g| g.name).collect(),
        target,
        options,
    })
}

fn char_at(s: &str, pos: usize) -> char {
    // Callers pass the offset of a character they just looked at.
    s[pos..].chars().next().unwrap_or('\u{fffd}')
}

/// Finds the end of the scheme chain, which `://` must follow.
fn scheme_end(s: &str) -> PResult<usize> {
    let b = s.as_bytes();
    let i = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'+' || *c == b'-'))
        .unwrap_or(b.len());
    if s[i..].starts_with("://") {
        return Ok(i);
    }
    if i == b.len() || b[i] == b':' || !s.contains("://") {
        return Err((i, K::MissingSeparator));
    }
    Err((i, K::InvalidSchemeChar { ch: char_at(s, i) }))
}

fn segments<'r>(s: &str, end: usize, reg: &'r SchemeRegistry) -> PResult<Vec<Segment<'r>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    for part in s[..end].split('+') {
        let Some(first) = part.chars().next() else {
            return Err((pos, K::EmptySchemeSegment));
        };
        if !first.is_ascii_alphabetic() {
            return Err((pos, K::InvalidSchemeChar { ch: first }));
        }
        let name = part.to_ascii_lowercase();
        let Some(spec) = reg.get(&name) else {
            return Err((
                pos,
                K::UnknownScheme {
                    name,
                    known: reg.names(),
                },
            ));
        };
        out.push(Segment { pos, name, spec });
        pos += part.len() + 1;
    }
    Ok(out)
}

/// Transports only at the bottom, layers only above, families matching.
fn check_chain(segs: &[Segment<'_>]) -> PResult<()> {
    let last = segs.len() - 1; // `split` yields at least one segment.
    for (i, g) in segs.iter().enumerate() {
        match g.spec.kind {
            SchemeKind::Transport { .. } if i != last => {
                let name = g.name.clone();
                return Err((g.pos, K::TransportNotAtBottom { name }));
            }
            SchemeKind::Layer { .. } | SchemeKind::Mapping { .. } if i == last => {
                let name = g.name.clone();
                return Err((g.pos, K::LayerAtBottom { name }));
            }
            _ => {}
        }
    }
    for pair in segs.windows(2).rev() {
        let (upper, lower) = (&pair[0], &pair[1]);
        if let SchemeKind::Layer { below, .. } = upper.spec.kind {
            let gives = lower.spec.kind.above();
            if below != gives {
                return Err((
                    upper.pos,
                    K::FamilyMismatch {
                        layer: upper.name.clone(),
                        needs: below,
                        below: lower.name.clone(),
                        gives,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// `host ":" port`; returns the target and the offset where it stopped.
fn host_port(s: &str, start: usize) -> PResult<(Target, usize)> {
    let b = s.as_bytes();
    let auth_end = s[start..].find(['?', '#']).map_or(s.len(), |i| start + i);
    let (host, after) = if b.get(start) == Some(&b'[') {
        let Some(close) = s[start..auth_end].find(']').map(|i| start + i) else {
            return Err((start, K::UnclosedBracket));
        };
        let inner = &s[start + 1..close];
        if let Some(z) = inner.find('%') {
            return Err((start + 1 + z, K::Ipv6Zone));
        }
        let ip: Ipv6Addr = inner.parse().map_err(|_| (start + 1, K::BadIpv6))?;
        (Host::Ip(IpAddr::V6(ip)), close + 1)
    } else {
        let auth = &s[start..auth_end];
        let ipv6_like = auth
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        if ipv6_like && auth.matches(':').count() >= 2 {
            return Err((start, K::Ipv6NeedsBrackets));
        }
        let end = s[start..auth_end].find(':').map_or(auth_end, |i| start + i);
        if end == start {
            return Err((start, K::MissingHost));
        }
        (host(s, start, end)?, end)
    };
    if b.get(after) != Some(&b':') {
        return Err((after, K::MissingPort));
    }
    let ps = after + 1;
    let mut i = ps;
    let mut port: u32 = 0;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        port = port * 10 + u32::from(d - b'0');
        if port > u32::from(u16::MAX) {
            return Err((ps, K::BadPort));
        }
        i += 1;
    }
    if i == ps {
        return Err(match b.get(i) {
            None | Some(b'?' | b'#') => (ps, K::MissingPort),
            Some(_) => (ps, K::BadPort),
        });
    }
    let port = port as u16; // Checked against u16::MAX above.
    match b.get(i) {
        None | Some(b'?') => Ok((Target::Host { host, port }, i)),
        Some(b'#') => Err((i, K::Fragment)),
        Some(_) => Err((i, K::TrailingGarbage { ch: char_at(s, i) })),
    }
}

/// An IPv4 address (when the last label is numeric) or a DNS name.
fn host(s: &str, start: usize, end: usize) -> PResult<Host> {
    let h = &s[start..end];
    let last = h.rsplit('.').next().unwrap_or(h);
    if !last.is_empty() && last.bytes().all(|c| c.is_ascii_digit()) {
        let ip: Ipv4Addr = h.parse().map_err(|_| (start, K::BadIpv4))?;
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let mut pos = start;
    for label in h.split('.') {
        if label.is_empty() {
            return Err((pos, K::EmptyLabel));
        }
        let bad = label
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'));
        if let Some((i, ch)) = bad {
            return Err((pos + i, K::BadHostChar { ch }));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err((pos + MAX_LABEL_LEN, K::LabelTooLong));
        }
        if label.starts_with('-') {
            return Err((pos, K::HyphenAtLabelEdge));
        }
        if label.ends_with('-') {
            return Err((pos + label.len() - 1, K::HyphenAtLabelEdge));
        }
        pos += label.len() + 1;
    }
    if h.len() > MAX_HOST_LEN {
        return Err((start + MAX_HOST_LEN, K::HostTooLong));
    }
    Ok(Host::Name(h.to_ascii_lowercase()))
}

/// An absolute, percent-decoded path up to `?` or the end.
fn path_target(s: &str, start: usize) -> PResult<(Target, usize)> {
    let end = s[start..].find(['?', '#']).map_or(s.len(), |i| start + i);
    match s.as_bytes().get(start) {
        None | Some(b'?' | b'#') => return Err((start, K::MissingPath)),
        Some(b'/') => {}
        Some(_) => return Err((start, K::RelativePath)),
    }
    let bytes = decode(s, start, end)?;
    let path = bytes_to_path(bytes).map_err(|idx| (source_pos(s, start, idx), K::PathNotUtf8))?;
    if s.as_bytes().get(end) == Some(&b'#') {
        return Err((end, K::Fragment));
    }
    Ok((Target::Path(path), end))
}

#[cfg(unix)]
fn bytes_to_path(bytes: Vec<u8>) -> Result<PathBuf, usize> {
    use std::os::unix::ffi::OsStringExt;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn bytes_to_path(bytes: Vec<u8>) -> Result<PathBuf, usize> {
    String::from_utf8(bytes)
        .map(PathBuf::from)
        .map_err(|e| e.utf8_error().valid_up_to())
}

/// `pair *( "&" pair )` up to a `#` (an error) or the end.
fn query(s: &str, start: usize, segs: &[Segment<'_>]) -> PResult<Vec<LayerOption>> {
    let end = s[start..].find('#').map_or(s.len(), |i| start + i);
    let mut out = Vec::new();
    let mut p = start;
    loop {
        let pe = s[p..end].find('&').map_or(end, |i| p + i);
        out.push(pair(s, p, pe, segs)?);
        if pe == end {
            break;
        }
        p = pe + 1;
    }
    if end < s.len() {
        return Err((end, K::Fragment));
    }
    Ok(out)
}

/// `layer "." key "=" value`.
fn pair(s: &str, p: usize, pe: usize, segs: &[Segment<'_>]) -> PResult<LayerOption> {
    if p == pe {
        return Err((p, K::EmptyOption));
    }
    let eq = s[p..pe].find('=').map(|i| p + i);
    let name_end = eq.unwrap_or(pe);
    let name = &s[p..name_end];
    let bad = name
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    if let Some((i, ch)) = bad {
        return Err((p + i, K::InvalidOptionChar { ch }));
    }
    let dot = match name.find('.') {
        Some(d) if d > 0 => d,
        _ => {
            let name = name.to_owned();
            return Err((p, K::OptionWithoutLayer { name }));
        }
    };
    let layer = name[..dot].to_ascii_lowercase();
    let key = name[dot + 1..].to_ascii_lowercase();
    if key.is_empty() {
        return Err((p + dot + 1, K::EmptyOptionKey));
    }
    let Some(eq) = eq else {
        let name = name.to_owned();
        return Err((name_end, K::MissingOptionValue { name }));
    };
    let Some(seg) = segs.iter().find(|g| g.name == layer) else {
        let chain = segs.iter().map(|g| g.name.clone()).collect();
        return Err((p, K::UnknownOptionLayer { layer, chain }));
    };
    if !seg.spec.accepts_option(&key) {
        let valid = seg.spec.options.to_vec();
        return Err((p + dot + 1, K::UnknownOptionKey { layer, key, valid }));
    }
    let raw = decode(s, eq + 1, pe)?;
    let value = String::from_utf8(raw).map_err(|e| {
        let idx = e.utf8_error().valid_up_to();
        (source_pos(s, eq + 1, idx), K::ValueNotUtf8)
    })?;
    if let Some(rule) = seg.spec.value_rule(&key)
        && !rule.check(&value)
    {
        return Err((eq + 1, K::BadOptionValue { layer, key, rule }));
    }
    Ok(LayerOption { layer, key, value })
}
