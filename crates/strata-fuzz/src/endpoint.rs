//! Target `endpoint`: the endpoint string parser.

use strata::endpoint::Endpoint;

/// Parses `data` (when it is UTF-8) as an endpoint string. An error must
/// point inside the input and render; a success must print back to a string
/// that parses to the same endpoint.
pub fn endpoint(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Endpoint::parse(s) {
        Ok(ep) => {
            let printed = ep.to_string();
            match Endpoint::parse(&printed) {
                Ok(again) => assert_eq!(again, ep, "{s:?} printed as {printed:?}"),
                Err(e) => panic!("{s:?} printed as {printed:?}, which fails: {e}"),
            }
        }
        Err(e) => {
            assert!(e.pos <= s.len(), "error position past the end: {e:?}");
            let _ = e.to_string();
        }
    }
}
