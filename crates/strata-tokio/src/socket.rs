//! The stream sockets the driver can run a stack over, and what it does to
//! them besides reading and writing (half-close, reset).

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::SockRef;
use strata::{Addr, BottomInfo};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A stream socket the driver can run a stack over: tokio's [`TcpStream`] and
/// [`UnixStream`]. Sealed: the set may grow, but only here.
///
/// ```
/// fn accepts<S: strata_tokio::DriverStream>() {}
/// accepts::<tokio::net::TcpStream>();
/// accepts::<tokio::net::UnixStream>();
/// ```
pub trait DriverStream: private::Socket {}

impl DriverStream for TcpStream {}
impl DriverStream for UnixStream {}

pub(crate) mod private {
    use super::*;

    /// The operations the connection task needs: readiness without a stored
    /// future (so an idle task stays small), non-blocking I/O, and the file
    /// descriptor for `shutdown` and `SO_LINGER`. `Unpin`, so the
    /// connection future needs no pinning.
    ///
    /// The implementations forward to tokio's methods of the same names.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::future::poll_fn;
    /// # use std::io::IoSlice;
    /// # use std::pin::Pin;
    /// # use tokio::io::{AsyncRead, ReadBuf};
    /// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    /// // The pattern the connection task follows (here with tokio's own methods,
    /// // which the implementations call): wait for readiness, then non-blocking I/O.
    /// poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
    /// assert_eq!(a.try_write(b"hello").unwrap(), 5);
    /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
    /// let mut buf = [0; 16];
    /// assert_eq!(b.try_read(&mut buf).unwrap(), 5);
    /// # }
    /// ```
    pub trait Socket: AsFd + Send + Sync + Unpin + 'static {
        /// Ready once the socket may be read (data, EOF or an error).
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// a.try_write(b"x").unwrap();
        /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap(); // ready: a byte waits
        /// assert_eq!(b.try_read(&mut [0; 4]).unwrap(), 1);
        /// # }
        /// ```
        fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Ready once the socket may take bytes.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap(); // an empty send buffer
        /// assert_eq!(a.try_write(b"x").unwrap(), 1);
        /// # }
        /// ```
        fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Readiness and a read in one: a short read marks the socket
        /// drained (tokio's `AsyncRead`), so the next poll waits instead of
        /// reading only to hear "would block".
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// a.try_write(b"abc").unwrap();
        /// let mut storage = [0u8; 64];
        /// let mut rb = ReadBuf::new(&mut storage);
        /// poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut rb)).await.unwrap();
        /// assert_eq!(rb.filled(), b"abc"); // a short read: the socket is drained
        /// # }
        /// ```
        fn poll_read(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>>;
        /// Reads what the socket holds now, without waiting: `WouldBlock` when
        /// nothing is there, `Ok(0)` at EOF.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// let mut buf = [0; 8];
        /// // Nothing sent yet: "would block", never a wait.
        /// assert_eq!(b.try_read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        /// a.try_write(b"hi").unwrap();
        /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        /// assert_eq!(b.try_read(&mut buf).unwrap(), 2);
        /// drop(a);
        /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        /// assert_eq!(b.try_read(&mut buf).unwrap(), 0); // EOF
        /// # }
        /// ```
        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
        /// Writes what the socket takes now, without waiting: the count taken, or
        /// `WouldBlock` when its send buffer is full.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// assert_eq!(a.try_write(b"ping").unwrap(), 4);
        /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        /// let mut buf = [0; 8];
        /// let n = b.try_read(&mut buf).unwrap();
        /// assert_eq!(&buf[..n], b"ping");
        /// # }
        /// ```
        fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
        /// [`try_write`](Socket::try_write) from several buffers at once (the
        /// driver writes its output queue this way).
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// # use std::future::poll_fn;
        /// # use std::io::IoSlice;
        /// # use std::pin::Pin;
        /// # use tokio::io::{AsyncRead, ReadBuf};
        /// # let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        /// # poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
        /// let n = a.try_write_vectored(&[IoSlice::new(b"GET "), IoSlice::new(b"/\r\n")]).unwrap();
        /// assert_eq!(n, 7); // both slices, one system call
        /// poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        /// let mut buf = [0; 16];
        /// let n = b.try_read(&mut buf).unwrap();
        /// assert_eq!(&buf[..n], b"GET /\r\n");
        /// # }
        /// ```
        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    }

    macro_rules! socket {
        ($t:ty) => {
            impl Socket for $t {
                fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    <$t>::poll_read_ready(self, cx)
                }
                fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    <$t>::poll_write_ready(self, cx)
                }
                fn poll_read(
                    &mut self,
                    cx: &mut Context<'_>,
                    buf: &mut ReadBuf<'_>,
                ) -> Poll<io::Result<()>> {
                    AsyncRead::poll_read(Pin::new(self), cx, buf)
                }
                fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                    <$t>::try_read(self, buf)
                }
                fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                    <$t>::try_write(self, buf)
                }
                fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                    <$t>::try_write_vectored(self, bufs)
                }
            }
        };
    }
    socket!(TcpStream);
    socket!(UnixStream);
}

/// The bottom info of a TCP connection; `local` saves a `getsockname` when
/// the listener's address is already specific.
pub(crate) fn tcp_info(
    s: &TcpStream,
    peer: std::net::SocketAddr,
    local: Option<std::net::SocketAddr>,
) -> BottomInfo {
    let info = BottomInfo::new("tcp")
        .peer(Addr::Inet(peer))
        .dialer(crate::dial::dialer_id());
    match local.or_else(|| s.local_addr().ok()) {
        Some(l) => info.local(Addr::Inet(l)),
        None => info,
    }
}

/// The bottom info of a Unix stream connection.
pub(crate) fn unix_info(s: &UnixStream) -> BottomInfo {
    let path = |a: tokio::net::unix::SocketAddr| a.as_pathname().map(|p| p.to_path_buf());
    let mut info = BottomInfo::new("unix").dialer(crate::dial::dialer_id());
    if let Ok(a) = s.peer_addr() {
        info = info.peer(Addr::Unix(path(a)));
    }
    if let Ok(a) = s.local_addr() {
        info = info.local(Addr::Unix(path(a)));
    }
    info
}

/// Half-closes: the peer reads EOF once what was written is delivered.
pub(crate) fn shutdown_write(s: &impl AsFd) -> io::Result<()> {
    SockRef::from(s).shutdown(Shutdown::Write)
}

/// Makes the coming close send a reset (RST) instead of a FIN, dropping
/// whatever is still queued.
pub(crate) fn reset_on_close(s: &impl AsFd) {
    // Failing here (the socket is already dead) leaves the ordinary close.
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// True for errors that mean "try again", not "the connection is broken".
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
