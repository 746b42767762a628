//! The error codes of RFC 9114 §8.1 and the typed reason an HTTP/3 error
//! gives `connection_lost`.

use crate::{AbortReason, Close, Fault, LayerError};

/// An HTTP/3 application error code (RFC 9114 §8.1). QPACK's codes
/// (RFC 9204 §6) and any code we do not know travel as [`Code::Other`].
///
/// ```
/// use strata::http::h3::Code;
/// assert_eq!(Code::MissingSettings.value(), 0x10a);
/// assert_eq!(Code::from_value(0x105), Code::FrameUnexpected);
/// assert_eq!(Code::from_value(0x200), Code::Other(0x200));
/// assert_eq!(Code::MessageError.to_string(), "H3_MESSAGE_ERROR");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// H3_NO_ERROR (0x100): no error; a graceful close or a stop.
    NoError,
    /// H3_GENERAL_PROTOCOL_ERROR (0x101).
    GeneralProtocolError,
    /// H3_INTERNAL_ERROR (0x102).
    InternalError,
    /// H3_STREAM_CREATION_ERROR (0x103): a stream we do not accept.
    StreamCreationError,
    /// H3_CLOSED_CRITICAL_STREAM (0x104): a control or QPACK stream closed.
    ClosedCriticalStream,
    /// H3_FRAME_UNEXPECTED (0x105): a frame not allowed where it came.
    FrameUnexpected,
    /// H3_FRAME_ERROR (0x106): a frame that does not parse.
    FrameError,
    /// H3_EXCESSIVE_LOAD (0x107).
    ExcessiveLoad,
    /// H3_ID_ERROR (0x108): a stream or push id used wrongly.
    IdError,
    /// H3_SETTINGS_ERROR (0x109).
    SettingsError,
    /// H3_MISSING_SETTINGS (0x10a): the control stream did not start with SETTINGS.
    MissingSettings,
    /// H3_REQUEST_REJECTED (0x10b): not processed, safe to retry.
    RequestRejected,
    /// H3_REQUEST_CANCELLED (0x10c).
    RequestCancelled,
    /// H3_REQUEST_INCOMPLETE (0x10d): the stream ended before the request did.
    RequestIncomplete,
    /// H3_MESSAGE_ERROR (0x10e): a malformed message.
    MessageError,
    /// H3_CONNECT_ERROR (0x10f): a CONNECT tunnel failed.
    ConnectError,
    /// H3_VERSION_FALLBACK (0x110).
    VersionFallback,
    /// Any other code (QPACK's 0x200–0x202, reserved or unknown codes).
    Other(u64),
}

const NAMED: [(Code, u64, &str); 17] = [
    (Code::NoError, 0x100, "H3_NO_ERROR"),
    (
        Code::GeneralProtocolError,
        0x101,
        "H3_GENERAL_PROTOCOL_ERROR",
    ),
    (Code::InternalError, 0x102, "H3_INTERNAL_ERROR"),
    (Code::StreamCreationError, 0x103, "H3_STREAM_CREATION_ERROR"),
    (
        Code::ClosedCriticalStream,
        0x104,
        "H3_CLOSED_CRITICAL_STREAM",
    ),
    (Code::FrameUnexpected, 0x105, "H3_FRAME_UNEXPECTED"),
    (Code::FrameError, 0x106, "H3_FRAME_ERROR"),
    (Code::ExcessiveLoad, 0x107, "H3_EXCESSIVE_LOAD"),
    (Code::IdError, 0x108, "H3_ID_ERROR"),
    (Code::SettingsError, 0x109, "H3_SETTINGS_ERROR"),
    (Code::MissingSettings, 0x10a, "H3_MISSING_SETTINGS"),
    (Code::RequestRejected, 0x10b, "H3_REQUEST_REJECTED"),
    (Code::RequestCancelled, 0x10c, "H3_REQUEST_CANCELLED"),
    (Code::RequestIncomplete, 0x10d, "H3_REQUEST_INCOMPLETE"),
    (Code::MessageError, 0x10e, "H3_MESSAGE_ERROR"),
    (Code::ConnectError, 0x10f, "H3_CONNECT_ERROR"),
    (Code::VersionFallback, 0x110, "H3_VERSION_FALLBACK"),
];

impl Code {
    /// The code on the wire.
    ///
    /// ```
    /// use strata::http::h3::Code;
    /// assert_eq!(Code::FrameUnexpected.value(), 0x105);
    /// assert_eq!(Code::Other(0x21).value(), 0x21);
    /// ```
    pub fn value(self) -> u64 {
        match self {
            Code::Other(v) => v,
            c => NAMED.iter().find(|n| n.0 == c).map_or(0x102, |n| n.1),
        }
    }

    /// The code for a value from the wire.
    ///
    /// ```
    /// use strata::http::h3::Code;
    /// assert_eq!(Code::from_value(0x10c), Code::RequestCancelled);
    /// assert_eq!(Code::from_value(0x1f * 3 + 0x21), Code::Other(0x7e)); // a reserved code
    /// ```
    pub fn from_value(v: u64) -> Code {
        NAMED
            .iter()
            .find(|n| n.1 == v)
            .map_or(Code::Other(v), |n| n.0)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match NAMED.iter().find(|n| n.0 == *self) {
            Some(n) => f.write_str(n.2),
            None => write!(f, "0x{:x}", self.value()),
        }
    }
}

/// An HTTP/3 error, ours or the peer's, as it reaches `connection_lost`
/// (`Close::Aborted { layer: "h3" or "h3-stream", reason:
/// AbortReason::Layer(..) }`; get it back with `why.error::<H3Error>()`).
///
/// ```
/// use strata::http::h3::{Code, H3Error};
/// use strata::{AbortReason, Close, Fault, LayerError};
/// let e = H3Error { code: Code::MissingSettings, detail: "no SETTINGS", remote: false, stream: None };
/// assert_eq!(e.to_string(), "connection error H3_MISSING_SETTINGS: no SETTINGS");
/// assert_eq!(e.kind(), Fault::PeerMisbehaved);
/// let why = Close::aborted("h3", AbortReason::layer(e.clone()));
/// assert_eq!(why.error::<H3Error>(), Some(&e));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{} {code}: {detail}", if *.remote { "peer sent " } else { "" }, scope(.stream))]
pub struct H3Error {
    /// The code sent or received.
    pub code: Code,
    /// What went wrong.
    pub detail: &'static str,
    /// True when the peer sent it (CONNECTION_CLOSE, RESET_STREAM, STOP_SENDING).
    pub remote: bool,
    /// The stream, for a stream error.
    pub stream: Option<u64>,
}

fn scope(stream: &Option<u64>) -> String {
    match stream {
        Some(id) => format!("stream {id} error"),
        None => "connection error".to_owned(),
    }
}

impl H3Error {
    /// A connection error of ours.
    pub(crate) fn conn(code: Code, detail: &'static str) -> H3Error {
        H3Error {
            code,
            detail,
            remote: false,
            stream: None,
        }
    }

    /// This error as the `Close` a protocol sees.
    pub(crate) fn close(self) -> Close {
        let layer = if self.stream.is_some() {
            "h3-stream"
        } else {
            "h3"
        };
        Close::aborted(layer, AbortReason::layer(self))
    }
}

impl LayerError for H3Error {
    /// A code the peer sent is the peer's abort; a code we send says whose
    /// fault it is (RFC 9114 §8.1).
    fn kind(&self) -> Fault {
        if self.remote {
            return Fault::PeerAborted;
        }
        match self.code {
            Code::GeneralProtocolError
            | Code::StreamCreationError
            | Code::ClosedCriticalStream
            | Code::FrameUnexpected
            | Code::FrameError
            | Code::IdError
            | Code::SettingsError
            | Code::MissingSettings
            | Code::MessageError
            | Code::RequestIncomplete
            | Code::Other(0x200..=0x202) => Fault::PeerMisbehaved,
            Code::VersionFallback => Fault::PeerIncompatible,
            Code::ExcessiveLoad | Code::RequestRejected => Fault::LocalLimit,
            Code::ConnectError => Fault::Io,
            Code::NoError | Code::InternalError | Code::RequestCancelled | Code::Other(_) => {
                Fault::Local
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips() {
        for (c, v, name) in NAMED {
            assert_eq!((c.value(), Code::from_value(v)), (v, c));
            assert_eq!(c.to_string(), name);
        }
        assert_eq!(Code::Other(0x21).to_string(), "0x21");
    }
}
