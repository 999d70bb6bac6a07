//! The few system calls the kernel-side peer programs and the live runs
//! need that `std` does not offer: MPTCP sockets (blocking or not), TCP
//! Fast Open socket options (`TCP_FASTOPEN`, `TCP_FASTOPEN_KEY`,
//! `TCP_FASTOPEN_CONNECT`) and `sendto(MSG_FASTOPEN)`, `SO_REUSEPORT`,
//! `IP_BIND_ADDRESS_NO_PORT`, non-blocking `connect`/`accept4`,
//! `SO_ERROR`, `SIOCOUTQ`, `MPTCP_INFO` / `TCP_INFO`, `poll`, epoll, and a
//! SIGINT/SIGTERM flag.
//!
//! All `unsafe` of this crate is here; every block says why it is sound.
//! Sockets are handed out as [`OwnedFd`] (closed on drop) and turned into
//! `std` streams and listeners by the callers.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libc::{c_int, c_void, socklen_t};

/// `IPPROTO_MPTCP` (Linux >= 5.6).
pub const IPPROTO_MPTCP: c_int = 262;
/// `SOL_MPTCP`: level of the MPTCP socket options.
pub const SOL_MPTCP: c_int = 284;
/// `MPTCP_INFO` (linux/mptcp.h).
pub const MPTCP_INFO: c_int = 1;
/// `MPTCP_INFO_FLAG_FALLBACK`: the connection fell back to plain TCP.
pub const MPTCP_INFO_FLAG_FALLBACK: u32 = 1 << 0;
/// `MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED`: the peer's key arrived (the
/// MP_CAPABLE third ACK was processed).
pub const MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED: u32 = 1 << 1;
/// `TCPI_OPT_SYN_DATA` of `tcpi_options`: data in the SYN was acknowledged
/// (sent and acked by the client; received by the server).
pub const TCPI_OPT_SYN_DATA: u8 = 0x20;

/// What `MPTCP_INFO` says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MptcpInfo {
    /// Extra subflows (besides the first).
    pub subflows: u8,
    /// `mptcpi_flags`.
    pub flags: u32,
    /// The local token.
    pub token: u32,
}

impl MptcpInfo {
    /// The connection fell back to TCP.
    pub fn fallback(&self) -> bool {
        self.flags & MPTCP_INFO_FLAG_FALLBACK != 0
    }

    /// The peer's key has been received.
    pub fn remote_key(&self) -> bool {
        self.flags & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED != 0
    }
}

/// The parts of `TCP_INFO` the peers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// `tcpi_state` (1 = ESTABLISHED, 2 = SYN_SENT, 3 = SYN_RECV, ...).
    pub state: u8,
    /// `tcpi_options`.
    pub options: u8,
}

impl TcpInfo {
    /// Data carried by the SYN was acknowledged (TFO worked).
    pub fn syn_data(&self) -> bool {
        self.options & TCPI_OPT_SYN_DATA != 0
    }
}

fn cvt(rc: c_int) -> io::Result<c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// The count of ready descriptors a wait call (`poll`, `epoll_wait`)
/// returned: 0 when a signal interrupted it, the error when it failed.
fn ready_count(rc: c_int) -> io::Result<usize> {
    match cvt(rc) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned at least
            // like sockaddr_in; the write stays in bounds.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as socklen_t)
}

/// A blocking stream socket of `addr`'s family: MPTCP
/// (`IPPROTO_MPTCP`) or plain TCP. Fails with `ENOPROTOOPT` when MPTCP is
/// disabled (`net.mptcp.enabled=0`).
pub fn stream_socket(mptcp: bool, addr: &SocketAddr) -> io::Result<OwnedFd> {
    new_stream_socket(mptcp, addr, 0)
}

/// A stream socket of `addr`'s family, MPTCP or TCP, close-on-exec, with
/// the socket type flags `flags` added (`SOCK_NONBLOCK`).
fn new_stream_socket(mptcp: bool, addr: &SocketAddr, flags: c_int) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let proto = if mptcp {
        IPPROTO_MPTCP
    } else {
        libc::IPPROTO_TCP
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | flags;
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe { libc::socket(family, ty, proto) })?;
    // SAFETY: fd is a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(fd, level, name, &value, sizeof(int))`.
pub fn set_int_opt(fd: &impl AsRawFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    // SAFETY: the option value points to a live c_int of the given length.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const c_int as *const c_void,
            size_of::<c_int>() as socklen_t,
        )
    })
    .map(drop)
}

/// `SO_REUSEADDR`.
pub fn set_reuseaddr(fd: &impl AsRawFd) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)
}

/// `TCP_FASTOPEN` on a listener: accept SYN data, with at most `qlen`
/// TFO connections whose handshake is not complete.
pub fn set_tcp_fastopen(fd: &impl AsRawFd, qlen: c_int) -> io::Result<()> {
    set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, qlen)
}

/// `TCP_FASTOPEN_CONNECT`: `connect` returns at once and the first
/// `write` goes out in the SYN (with a cached cookie).
pub fn set_tcp_fastopen_connect(fd: &impl AsRawFd) -> io::Result<()> {
    set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)
}

/// `bind(fd, addr)`.
pub fn bind(fd: &impl AsRawFd, addr: &SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(addr);
    // SAFETY: ss is a valid socket address of length len.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    })
    .map(drop)
}

/// `listen(fd, backlog)`.
pub fn listen(fd: &impl AsRawFd, backlog: c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor the caller owns.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `connect(fd, addr)` (blocking; with `TCP_FASTOPEN_CONNECT` it returns
/// before the handshake).
pub fn connect(fd: &impl AsRawFd, addr: &SocketAddr) -> io::Result<()> {
    let (ss, len) = sockaddr(addr);
    loop {
        // SAFETY: ss is a valid socket address of length len.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                &ss as *const _ as *const libc::sockaddr,
                len,
            )
        };
        match cvt(rc) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// `sendto(fd, data, MSG_FASTOPEN, addr)`: connects and sends `data` in
/// the SYN when a cookie is cached (else a cookie is requested and the
/// data follows the handshake). Returns the bytes taken.
pub fn sendto_fastopen(fd: &impl AsRawFd, data: &[u8], addr: &SocketAddr) -> io::Result<usize> {
    let (ss, len) = sockaddr(addr);
    // SAFETY: data is valid for data.len() bytes; ss is a valid socket
    // address of length len.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            data.as_ptr() as *const c_void,
            data.len(),
            libc::MSG_FASTOPEN | libc::MSG_NOSIGNAL,
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `getsockopt` into a byte buffer; returns the length the kernel wrote.
fn getsockopt_bytes(
    fd: &impl AsRawFd,
    level: c_int,
    name: c_int,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut len = buf.len() as socklen_t;
    // SAFETY: buf is writable for len bytes and len is a valid in/out
    // pointer; the kernel writes at most len bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr() as *mut c_void,
            &mut len,
        )
    })?;
    Ok(len as usize)
}

/// `MPTCP_INFO` of an MPTCP socket. A socket that fell back to TCP gives
/// either the FALLBACK flag or `EOPNOTSUPP` (both are reported as a
/// fallback by [`mptcp_state`]).
pub fn mptcp_info(fd: &impl AsRawFd) -> io::Result<MptcpInfo> {
    // struct mptcp_info: 6 x u8, then u32 flags at offset 8, u32 token at
    // 12 (the kernel truncates to the length we pass).
    let mut b = [0u8; 128];
    let n = getsockopt_bytes(fd, SOL_MPTCP, MPTCP_INFO, &mut b)?;
    if n < 16 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("MPTCP_INFO returned {n} bytes"),
        ));
    }
    let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    Ok(MptcpInfo {
        subflows: b[0],
        flags: u32_at(8),
        token: u32_at(12),
    })
}

/// How an MPTCP socket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MptcpState {
    /// MPTCP, and the peer's key is known (fully established at the data
    /// level, or about to be).
    Mptcp {
        /// The peer's key has been received.
        remote_key: bool,
    },
    /// Fell back to plain TCP.
    Fallback,
    /// Not an MPTCP socket, or MPTCP_INFO failed otherwise.
    Unknown,
}

/// [`mptcp_info`] boiled down: fallback or not.
pub fn mptcp_state(fd: &impl AsRawFd) -> MptcpState {
    match mptcp_info(fd) {
        Ok(i) if i.fallback() => MptcpState::Fallback,
        Ok(i) => MptcpState::Mptcp {
            remote_key: i.remote_key(),
        },
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => MptcpState::Fallback,
        Err(_) => MptcpState::Unknown,
    }
}

/// `TCP_INFO` (of the first subflow on an MPTCP socket).
pub fn tcp_info(fd: &impl AsRawFd) -> io::Result<TcpInfo> {
    // struct tcp_info: u8 state, ca_state, retransmits, probes, backoff,
    // options, ...
    let mut b = [0u8; 256];
    let n = getsockopt_bytes(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut b)?;
    if n < 6 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TCP_INFO returned {n} bytes"),
        ));
    }
    Ok(TcpInfo {
        state: b[0],
        options: b[5],
    })
}

/// A non-blocking stream socket of `addr`'s family: MPTCP
/// (`IPPROTO_MPTCP`) or plain TCP (see [`stream_socket`]).
pub fn stream_socket_nonblocking(mptcp: bool, addr: &SocketAddr) -> io::Result<OwnedFd> {
    new_stream_socket(mptcp, addr, libc::SOCK_NONBLOCK)
}

/// `SO_REUSEPORT`: several listeners (one per thread) share the port and
/// the kernel spreads the connections over them.
pub fn set_reuseport(fd: &impl AsRawFd) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)
}

/// `IP_BIND_ADDRESS_NO_PORT`: a `bind` to a source address leaves the
/// port to `connect`, which may then share ports between destinations.
pub fn set_bind_address_no_port(fd: &impl AsRawFd) -> io::Result<()> {
    set_int_opt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)
}

/// `TCP_FASTOPEN_KEY` on a listener: the 16 key bytes its cookies are
/// made with (the bytes of `net.ipv4.tcp_fastopen_key`, not its words).
/// Linux accepts it on MPTCP listeners since 6.2.
pub fn set_tcp_fastopen_key(fd: &impl AsRawFd, key: &[u8; 16]) -> io::Result<()> {
    // SAFETY: the option value points to 16 live bytes, the length given.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_FASTOPEN_KEY,
            key.as_ptr() as *const c_void,
            key.len() as socklen_t,
        )
    })
    .map(drop)
}

/// A non-blocking `connect`: `Ok(true)` when connected at once, `Ok(false)`
/// when the handshake is in progress (`EINPROGRESS`; the socket becomes
/// writable when it completes).
pub fn connect_nonblocking(fd: &impl AsRawFd, addr: &SocketAddr) -> io::Result<bool> {
    match connect(fd, addr) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `SO_ERROR`: the pending error of a socket (a failed non-blocking
/// connect), cleared by reading it; `None` when there is none.
pub fn take_socket_error(fd: &impl AsRawFd) -> io::Result<Option<io::Error>> {
    let mut b = [0u8; size_of::<c_int>()];
    getsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut b)?;
    let e = c_int::from_ne_bytes(b);
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)` without the peer's address.
pub fn accept_nonblocking(listener: &impl AsRawFd) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: null address pointers are allowed (the peer address is
        // not wanted); the listener is a descriptor the caller owns.
        let rc = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(rc) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // SAFETY: a new descriptor nobody else owns.
            r => return r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        }
    }
}

/// `SIOCOUTQ`: bytes written to the socket and not yet acknowledged by
/// the peer (at the data level on an MPTCP socket).
pub fn unacked_bytes(fd: &impl AsRawFd) -> io::Result<usize> {
    let mut n: c_int = 0;
    // SAFETY: SIOCOUTQ writes one c_int to the pointer, which is live.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut c_int) })?;
    Ok(n.max(0) as usize)
}

/// Readiness flags of [`Epoll`] (`EPOLLIN`, ...).
pub mod ev {
    /// Readable (data, a FIN, or a pending connection on a listener).
    pub const IN: u32 = libc::EPOLLIN as u32;
    /// Writable (a non-blocking connect completed).
    pub const OUT: u32 = libc::EPOLLOUT as u32;
    /// The peer closed its side.
    pub const RDHUP: u32 = libc::EPOLLRDHUP as u32;
    /// Error on the socket (always reported).
    pub const ERR: u32 = libc::EPOLLERR as u32;
    /// Hang-up (always reported).
    pub const HUP: u32 = libc::EPOLLHUP as u32;
    /// Edge-triggered: one event per change of readiness.
    pub const ET: u32 = libc::EPOLLET as u32;
}

/// One event of [`Epoll::wait`]: the token given at registration and the
/// readiness flags.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct EpollEvent(libc::epoll_event);

impl EpollEvent {
    /// An empty slot for [`Epoll::wait`] to fill.
    pub const EMPTY: EpollEvent = EpollEvent(libc::epoll_event { events: 0, u64: 0 });

    /// The readiness flags ([`ev`]).
    pub fn events(&self) -> u32 {
        // A copy: the struct is packed on x86-64.
        self.0.events
    }

    /// The token of the descriptor.
    pub fn token(&self) -> u64 {
        self.0.u64
    }
}

/// An epoll instance (closed on drop).
pub struct Epoll(OwnedFd);

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall with a constant flag.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: a new descriptor nobody else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut e = libc::epoll_event { events, u64: token };
        // SAFETY: e is a live epoll_event; the kernel only reads it.
        cvt(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut e) }).map(drop)
    }

    /// Registers `fd` for `events` under `token`. Closing the descriptor
    /// removes it.
    pub fn add(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), events, token)
    }

    /// Changes the events (and token) of a registered `fd`.
    pub fn modify(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), events, token)
    }

    /// Waits up to `timeout_ms` (-1: forever) and fills the front of
    /// `out`; returns how many. An interrupted wait returns 0.
    pub fn wait(&self, out: &mut [EpollEvent], timeout_ms: i32) -> io::Result<usize> {
        let max = out.len().min(c_int::MAX as usize) as c_int;
        // SAFETY: out is a writable array of at least max epoll_event
        // (EpollEvent is repr(transparent) over it).
        let rc = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                out.as_mut_ptr() as *mut libc::epoll_event,
                max,
                timeout_ms,
            )
        };
        ready_count(rc)
    }

    /// [`Epoll::wait`] with a timeout of nanosecond resolution
    /// (`epoll_pwait2`; `None`: forever).
    pub fn wait_for(
        &self,
        out: &mut [EpollEvent],
        timeout: Option<std::time::Duration>,
    ) -> io::Result<usize> {
        let max = out.len().min(c_int::MAX as usize) as c_int;
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: out is a writable array of at least max epoll_event
        // (EpollEvent is repr(transparent) over it); tsp is null or points
        // to a live timespec; a null sigmask leaves the mask alone.
        let rc = unsafe {
            libc::epoll_pwait2(
                self.0.as_raw_fd(),
                out.as_mut_ptr() as *mut libc::epoll_event,
                max,
                tsp,
                std::ptr::null(),
            )
        };
        ready_count(rc)
    }
}

/// One entry of [`poll`].
pub type PollFd = libc::pollfd;

/// A [`PollFd`] for `fd` waiting for `events` (`libc::POLLIN`, ...).
pub fn poll_fd(fd: RawFd, events: i16) -> PollFd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// `poll(fds, timeout_ms)`; an interrupted call counts as 0 ready.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: fds is a valid, writable array of fds.len() pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    ready_count(rc)
}

/// Set by SIGINT or SIGTERM once [`stop_on_signals`] ran.
static STOP: AtomicBool = AtomicBool::new(false);
/// How many of those signals arrived.
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_sig: c_int) {
    // Only async-signal-safe work: two atomic stores.
    STOP.store(true, Ordering::SeqCst);
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that set a flag (no SA_RESTART,
/// so blocking calls return `EINTR`) and returns the flag.
pub fn stop_on_signals() -> io::Result<&'static AtomicBool> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain old data (all-zero is valid); the
        // handler is an extern "C" fn that only touches atomics, which is
        // async-signal-safe; the mask is initialised by sigemptyset.
        unsafe {
            let mut sa: libc::sigaction = zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            cvt(libc::sigaction(sig, &sa, std::ptr::null_mut()))?;
        }
    }
    Ok(&STOP)
}

/// SIGINT/SIGTERM received so far (after [`stop_on_signals`]).
pub fn signals_received() -> usize {
    SIGNALS.load(Ordering::SeqCst)
}

/// `len` bytes from `/dev/urandom`-quality randomness (the `getrandom`
/// syscall), for keys and seeds.
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the destination is the writable rest of buf.
        let n = unsafe {
            libc::getrandom(buf[done..].as_mut_ptr() as *mut c_void, buf.len() - done, 0)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    #[test]
    fn sockaddr_v4_layout() {
        let a: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        let (ss, len) = sockaddr(&a);
        assert_eq!(len as usize, size_of::<libc::sockaddr_in>());
        // SAFETY: sockaddr() wrote a sockaddr_in at the start.
        let sin = unsafe { &*(&ss as *const _ as *const libc::sockaddr_in) };
        assert_eq!(u16::from_be(sin.sin_port), 8080);
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [10, 1, 2, 3]);
    }

    #[test]
    fn tcp_socket_connects_and_reports_tcp_info() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let fd = stream_socket(false, &addr).unwrap();
        connect(&fd, &addr).unwrap();
        let (_peer, _) = l.accept().unwrap();
        let ti = tcp_info(&fd).unwrap();
        assert_eq!(ti.state, 1, "ESTABLISHED");
        // A plain TCP socket has no MPTCP_INFO.
        assert_ne!(mptcp_state(&fd), MptcpState::Mptcp { remote_key: true });
    }

    #[test]
    fn random_bytes_fill() {
        let mut a = [0u8; 32];
        random_bytes(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
