//! Packet headers: parsing ([`parse_packet`]) and encoding ([`Header`]).

use super::frame::Frames;
use super::{
    varint, ConnId, EncodeError, PacketNumber, Reader, WireError, DEFAULT_MTU, MAX_TOKEN_LEN,
    MAX_VERSIONS, VERSION,
};

/// The smallest datagram that may carry an Initial packet: the client pads
/// its Initials (with PADDING frames) to at least this size, so a server
/// answering with a Retry or a Handshake sends no more than it received.
pub const MIN_INITIAL_SIZE: usize = DEFAULT_MTU;

const LONG: u8 = 0x80;
const FIXED: u8 = 0x40;
const LONG_TYPE_SHIFT: u8 = 4;
const LONG_RESERVED: u8 = 0x0f;
const SHORT_RESERVED: u8 = 0x3f;
const TYPE_INITIAL: u8 = 0;
const TYPE_HANDSHAKE: u8 = 1;
const TYPE_RETRY: u8 = 2;

/// The kind of a packet, which decides the frames it may carry (see
/// [`crate::reliable::wire::Frame::allowed_in`]).
///
/// ```
/// use strata::reliable::wire::{ConnId, Header, PacketNumber, PacketType};
/// let h = Header::Short { dst: ConnId(1), number: PacketNumber(0) };
/// assert_eq!(h.packet_type(), PacketType::Short);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Client to server, opens a connection (long header type 0).
    Initial,
    /// Server to client, accepts a connection (long header type 1).
    Handshake,
    /// Server to client, asks for address validation (long header type 2).
    Retry,
    /// Server to client, lists the versions it speaks (version 0).
    VersionNegotiation,
    /// Either way, once established.
    Short,
}

/// A packet header, as parsed or to be encoded.
///
/// ```
/// use strata::reliable::wire::{self, ConnId, Header};
/// let retry = Header::Retry { dst: ConnId(1), src: ConnId(2), token: b"cookie" };
/// let mut out = Vec::new();
/// retry.encode(&mut out)?;
/// assert_eq!(out.len(), retry.encoded_len());
/// assert_eq!(wire::parse_packet(&out)?.header, retry);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header<'a> {
    /// Client to server: opens a connection. `token` is empty on the first
    /// attempt, or the token of the server's Retry. Its datagram is at least
    /// [`MIN_INITIAL_SIZE`] bytes.
    Initial {
        /// The server's connection id (random on the first attempt, the
        /// Retry's `src` after one).
        dst: ConnId,
        /// The client's connection id.
        src: ConnId,
        /// Address-validation token (at most [`MAX_TOKEN_LEN`] bytes).
        token: &'a [u8],
        /// The packet number.
        number: PacketNumber,
    },
    /// Server to client: the connection is accepted; `src` is the id the
    /// client sends to from now on.
    Handshake {
        /// The client's connection id.
        dst: ConnId,
        /// The server's connection id.
        src: ConnId,
        /// The packet number.
        number: PacketNumber,
    },
    /// Server to client: retry the Initial with this token (stateless
    /// address validation). No packet number, no frames.
    Retry {
        /// The client's connection id (from its Initial's `src`).
        dst: ConnId,
        /// The id the client puts in its next Initial's `dst`.
        src: ConnId,
        /// The token (1 to [`MAX_TOKEN_LEN`] bytes).
        token: &'a [u8],
    },
    /// Server to client: the versions the server speaks, in answer to a long
    /// header of another version. No packet number, no frames.
    VersionNegotiation {
        /// The client's connection id (the offending packet's `src`).
        dst: ConnId,
        /// The offending packet's `dst`.
        src: ConnId,
        /// The versions (1 to [`MAX_VERSIONS`]).
        versions: VersionList<'a>,
    },
    /// Either way, after the handshake.
    Short {
        /// The receiver's connection id.
        dst: ConnId,
        /// The packet number.
        number: PacketNumber,
    },
}

/// The versions of a Version Negotiation packet, as 4-byte big-endian
/// values.
///
/// ```
/// use strata::reliable::wire::VersionList;
/// let raw = [0, 0, 0, 1, 0xff, 0, 0, 2];
/// let list = VersionList::new(&raw).unwrap();
/// assert_eq!(list.iter().collect::<Vec<_>>(), [1, 0xff00_0002]);
/// assert!(VersionList::new(&raw[..3]).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionList<'a>(&'a [u8]);

impl<'a> VersionList<'a> {
    /// `raw` as a version list, if it holds 1 to [`MAX_VERSIONS`] whole
    /// versions.
    ///
    /// ```
    /// use strata::reliable::wire::VersionList;
    /// assert!(VersionList::new(&[0, 0, 0, 1]).is_some());
    /// assert!(VersionList::new(&[]).is_none()); // at least one version
    /// assert!(VersionList::new(&[0, 0, 1]).is_none()); // whole versions only
    /// ```
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        let ok = !raw.is_empty() && raw.len().is_multiple_of(4) && raw.len() / 4 <= MAX_VERSIONS;
        ok.then_some(VersionList(raw))
    }

    /// The versions, in order.
    ///
    /// ```
    /// use strata::reliable::wire::VersionList;
    /// let list = VersionList::new(&[0, 0, 0, 1, 0, 0, 0, 7]).unwrap();
    /// assert_eq!(list.iter().max(), Some(7));
    /// assert!(list.iter().any(|v| v == strata::reliable::wire::VERSION));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a + use<'a> {
        self.0
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The raw bytes.
    ///
    /// ```
    /// use strata::reliable::wire::VersionList;
    /// let raw = [0, 0, 0, 1];
    /// assert_eq!(VersionList::new(&raw).unwrap().as_bytes(), &raw);
    /// ```
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Appends the list `versions` (1 to [`MAX_VERSIONS`]) in wire form.
    ///
    /// ```
    /// use strata::reliable::wire::VersionList;
    /// let mut raw = Vec::new();
    /// VersionList::write(&mut raw, &[1, 2])?;
    /// assert_eq!(VersionList::new(&raw).unwrap().iter().collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), strata::reliable::wire::EncodeError>(())
    /// ```
    pub fn write(out: &mut Vec<u8>, versions: &[u32]) -> Result<(), EncodeError> {
        if versions.is_empty() || versions.len() > MAX_VERSIONS {
            return Err(EncodeError::BadVersionList);
        }
        for v in versions {
            out.extend_from_slice(&v.to_be_bytes());
        }
        Ok(())
    }
}

impl<'a> Header<'a> {
    /// The packet's kind.
    ///
    /// ```
    /// use strata::reliable::wire::{self, ConnId, Header, PacketNumber, PacketType};
    /// let h = Header::Short { dst: ConnId(1), number: PacketNumber(5) };
    /// assert_eq!(h.packet_type(), PacketType::Short);
    /// let mut out = Vec::new();
    /// h.encode(&mut out).unwrap();
    /// out.push(0x01); // PING
    /// assert_eq!(wire::parse_packet(&out).unwrap().header.packet_type(), PacketType::Short);
    /// ```
    pub fn packet_type(&self) -> PacketType {
        match self {
            Header::Initial { .. } => PacketType::Initial,
            Header::Handshake { .. } => PacketType::Handshake,
            Header::Retry { .. } => PacketType::Retry,
            Header::VersionNegotiation { .. } => PacketType::VersionNegotiation,
            Header::Short { .. } => PacketType::Short,
        }
    }

    /// The destination connection id, which routes the packet.
    ///
    /// ```
    /// use strata::reliable::wire::{ConnId, Header, PacketNumber};
    /// assert_eq!(Header::Short { dst: ConnId(9), number: PacketNumber(0) }.dst(), ConnId(9));
    /// ```
    pub fn dst(&self) -> ConnId {
        match *self {
            Header::Initial { dst, .. }
            | Header::Handshake { dst, .. }
            | Header::Retry { dst, .. }
            | Header::VersionNegotiation { dst, .. }
            | Header::Short { dst, .. } => dst,
        }
    }

    /// The packet number, for the packets that have one.
    ///
    /// ```
    /// use strata::reliable::wire::{ConnId, Header, PacketNumber};
    /// let h = Header::Handshake { dst: ConnId(1), src: ConnId(2), number: PacketNumber(5) };
    /// assert_eq!(h.number(), Some(PacketNumber(5)));
    /// ```
    pub fn number(&self) -> Option<PacketNumber> {
        match *self {
            Header::Initial { number, .. }
            | Header::Handshake { number, .. }
            | Header::Short { number, .. } => Some(number),
            Header::Retry { .. } | Header::VersionNegotiation { .. } => None,
        }
    }

    /// The bytes [`Header::encode`] writes.
    ///
    /// ```
    /// use strata::reliable::wire::{ConnId, Header, PacketNumber};
    /// // Type byte, 8-byte id, 1-byte packet number.
    /// assert_eq!(Header::Short { dst: ConnId(1), number: PacketNumber(3) }.encoded_len(), 10);
    /// ```
    pub fn encoded_len(&self) -> usize {
        const LONG_FIXED: usize = 1 + 4 + 8 + 8;
        match *self {
            Header::Initial { token, number, .. } => {
                LONG_FIXED + varint::len(token.len() as u64) + token.len() + varint::len(number.0)
            }
            Header::Handshake { number, .. } => LONG_FIXED + varint::len(number.0),
            Header::Retry { token, .. } => {
                LONG_FIXED + varint::len(token.len() as u64) + token.len()
            }
            Header::VersionNegotiation { versions, .. } => LONG_FIXED + versions.0.len(),
            Header::Short { number, .. } => 1 + 8 + varint::len(number.0),
        }
    }

    /// Appends the header. For Initial, Handshake and Short, frames follow
    /// (and an Initial is then padded with [`pad_to`]); Retry and Version
    /// Negotiation are complete packets. On error `out` is unchanged.
    ///
    /// ```
    /// use strata::reliable::wire::{self, ConnId, Frame, Header, PacketNumber, MIN_INITIAL_SIZE};
    /// let mut out = Vec::new();
    /// let initial = Header::Initial { dst: ConnId(1), src: ConnId(2), token: &[], number: PacketNumber(0) };
    /// initial.encode(&mut out)?;
    /// Frame::Ping.encode(&mut out)?;
    /// wire::pad_to(&mut out, 0, MIN_INITIAL_SIZE);
    /// assert_eq!(out.len(), MIN_INITIAL_SIZE);
    /// assert_eq!(wire::parse_packet(&out)?.header, initial);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let Some(n) = self.number()
            && n.0 > varint::MAX
        {
            return Err(EncodeError::VarintTooLarge(n.0));
        }
        match *self {
            Header::Initial { token, .. } if token.len() > MAX_TOKEN_LEN => {
                return Err(EncodeError::BadTokenLength(token.len()));
            }
            Header::Retry { token, .. } if token.is_empty() || token.len() > MAX_TOKEN_LEN => {
                return Err(EncodeError::BadTokenLength(token.len()));
            }
            _ => {}
        }
        match *self {
            Header::Initial {
                dst,
                src,
                token,
                number,
            } => {
                long(out, TYPE_INITIAL, VERSION, dst, src);
                varint::write_checked(out, token.len() as u64);
                out.extend_from_slice(token);
                varint::write_checked(out, number.0);
            }
            Header::Handshake { dst, src, number } => {
                long(out, TYPE_HANDSHAKE, VERSION, dst, src);
                varint::write_checked(out, number.0);
            }
            Header::Retry { dst, src, token } => {
                long(out, TYPE_RETRY, VERSION, dst, src);
                varint::write_checked(out, token.len() as u64);
                out.extend_from_slice(token);
            }
            Header::VersionNegotiation { dst, src, versions } => {
                long(out, 0, 0, dst, src);
                out.extend_from_slice(versions.0);
            }
            Header::Short { dst, number } => {
                out.push(FIXED);
                out.extend_from_slice(&dst.0.to_be_bytes());
                varint::write_checked(out, number.0);
            }
        }
        Ok(())
    }
}

fn long(out: &mut Vec<u8>, kind: u8, version: u32, dst: ConnId, src: ConnId) {
    out.push(LONG | FIXED | (kind << LONG_TYPE_SHIFT));
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&dst.0.to_be_bytes());
    out.extend_from_slice(&src.0.to_be_bytes());
}

/// Appends PADDING (zero bytes) until the packet that starts at `out[start]`
/// is `size` bytes long; does nothing if it already is.
///
/// ```
/// let mut out = vec![1, 2, 3];
/// strata::reliable::wire::pad_to(&mut out, 1, 5);
/// assert_eq!(out, [1, 2, 3, 0, 0, 0]);
/// ```
pub fn pad_to(out: &mut Vec<u8>, start: usize, size: usize) {
    let target = start.saturating_add(size);
    if out.len() < target {
        out.resize(target, 0);
    }
}

/// A parsed packet: its header, and its frames decoded on demand.
///
/// ```
/// use strata::reliable::wire::{self, ConnId, Frame, Header, PacketNumber};
/// let mut out = Vec::new();
/// Header::Short { dst: ConnId(1), number: PacketNumber(0) }.encode(&mut out)?;
/// Frame::MaxData { max: 1 << 20 }.encode(&mut out)?;
/// let packet = wire::parse_packet(&out)?;
/// assert_eq!(packet.frames().next(), Some(Ok(Frame::MaxData { max: 1 << 20 })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header<'a>,
    payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// The frame bytes after the header (empty for Retry and Version
    /// Negotiation).
    ///
    /// ```
    /// use strata::reliable::wire::{self, ConnId, Frame, Header, PacketNumber};
    /// let mut out = Vec::new();
    /// Header::Short { dst: ConnId(1), number: PacketNumber(0) }.encode(&mut out).unwrap();
    /// let header_len = out.len();
    /// Frame::Ping.encode(&mut out).unwrap();
    /// let packet = wire::parse_packet(&out).unwrap();
    /// assert_eq!(packet.payload(), &out[header_len..]);
    /// assert_eq!(packet.payload(), [0x01]);
    /// ```
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The frames, decoded lazily; after the first error the iterator ends.
    /// A frame not allowed in this packet type is an error
    /// ([`WireError::FrameNotAllowed`]).
    ///
    /// ```
    /// use strata::reliable::wire::{self, ConnId, Frame, Header, PacketNumber};
    /// let mut out = Vec::new();
    /// Header::Short { dst: ConnId(1), number: PacketNumber(0) }.encode(&mut out).unwrap();
    /// Frame::Ping.encode(&mut out).unwrap();
    /// Frame::Stream { offset: 0, fin: true, data: b"hi" }.encode(&mut out).unwrap();
    /// let packet = wire::parse_packet(&out).unwrap();
    /// let frames: Vec<_> = packet.frames().collect::<Result<_, _>>().unwrap();
    /// assert_eq!(frames, [Frame::Ping, Frame::Stream { offset: 0, fin: true, data: b"hi" }]);
    /// ```
    pub fn frames(&self) -> Frames<'a> {
        Frames::new(self.payload, self.header.packet_type())
    }
}

/// Parses the header of the packet in `datagram` (one datagram is one
/// packet). Frames are checked only as [`Packet::frames`] decodes them.
///
/// A long header of another version gives
/// [`WireError::UnsupportedVersion`] (with its ids, so a server can send a
/// Version Negotiation packet).
///
/// ```
/// use strata::reliable::wire::{self, WireError};
/// assert_eq!(wire::parse_packet(&[0x00]), Err(WireError::FixedBitClear));
/// assert_eq!(wire::parse_packet(&[0x40, 0, 0]), Err(WireError::Truncated { field: "destination id" }));
/// ```
pub fn parse_packet(datagram: &[u8]) -> Result<Packet<'_>, WireError> {
    let mut r = Reader::new(datagram);
    let first = r.u8("first byte")?;
    if first & FIXED == 0 {
        return Err(WireError::FixedBitClear);
    }
    if first & LONG == 0 {
        if first & SHORT_RESERVED != 0 {
            return Err(WireError::ReservedBits(first & SHORT_RESERVED));
        }
        let dst = r.conn_id("destination id")?;
        let number = PacketNumber(r.varint("packet number")?);
        return with_frames(Header::Short { dst, number }, r);
    }
    let version = r.u32("version")?;
    let dst = r.conn_id("destination id")?;
    let src = r.conn_id("source id")?;
    if version == 0 {
        // Version Negotiation: the other bits of the first byte are unused.
        let versions = VersionList::new(r.rest()).ok_or(WireError::BadVersionList)?;
        let header = Header::VersionNegotiation { dst, src, versions };
        return Ok(Packet {
            header,
            payload: &[],
        });
    }
    if version != VERSION {
        return Err(WireError::UnsupportedVersion { version, dst, src });
    }
    if first & LONG_RESERVED != 0 {
        return Err(WireError::ReservedBits(first & LONG_RESERVED));
    }
    match (first & !(LONG | FIXED)) >> LONG_TYPE_SHIFT {
        TYPE_INITIAL => {
            if datagram.len() < MIN_INITIAL_SIZE {
                return Err(WireError::InitialTooSmall {
                    len: datagram.len(),
                });
            }
            let token = token(&mut r)?;
            let number = PacketNumber(r.varint("packet number")?);
            let header = Header::Initial {
                dst,
                src,
                token,
                number,
            };
            with_frames(header, r)
        }
        TYPE_HANDSHAKE => {
            let number = PacketNumber(r.varint("packet number")?);
            with_frames(Header::Handshake { dst, src, number }, r)
        }
        TYPE_RETRY => {
            let token = token(&mut r)?;
            if token.is_empty() {
                return Err(WireError::BadTokenLength(0));
            }
            if !r.is_empty() {
                return Err(WireError::TrailingBytes);
            }
            Ok(Packet {
                header: Header::Retry { dst, src, token },
                payload: &[],
            })
        }
        _ => Err(WireError::UnknownPacketType),
    }
}

fn token<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], WireError> {
    let len = r.varint("token length")?;
    match usize::try_from(len) {
        Ok(n) if n <= MAX_TOKEN_LEN => r.bytes(n, "token"),
        _ => Err(WireError::BadTokenLength(len)),
    }
}

fn with_frames<'a>(header: Header<'a>, r: Reader<'a>) -> Result<Packet<'a>, WireError> {
    if r.is_empty() {
        return Err(WireError::EmptyPayload);
    }
    Ok(Packet {
        header,
        payload: r.rest(),
    })
}
