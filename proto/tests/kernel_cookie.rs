//! Interop with the real Linux kernel: the TFO cookie Linux issues equals
//! `tfo::cookie_for`, for IPv4 and IPv6, TCP and MPTCP, and across a key
//! rotation (old cookie accepted through the backup key).
//!
//! Needs root (prints a loud SKIPPED line otherwise). Each test runs on a
//! dedicated thread that moves itself into a fresh network namespace with
//! `unshare(CLONE_NEWNET)` (namespaces are per thread; the `ip` processes the
//! test starts are forked from that thread and inherit it, and so do the
//! `/proc/sys/net` files it opens). All traffic stays on that namespace's
//! `lo`; the namespace disappears when the thread ends and its sockets close.
//! Cookies are read off the wire with an AF_PACKET socket on `lo`, and
//! cross-checked against the client's cache (`ip tcp_metrics`).
//!
//! What this established about `net.ipv4.tcp_fastopen_key` (Linux 6.18,
//! x86-64): the text is four 32-bit hex words; the kernel parses each as a u32
//! and stores it little-endian, so `00010203-04050607-08090a0b-0c0d0e0f` is
//! the SipHash key bytes `03 02 01 00 07 06 05 04 0b 0a 09 08 0f 0e 0d 0c`
//! (`TfoKey::parse_linux`), while the `TCP_FASTOPEN_KEY` socket option takes
//! the 16 key bytes as they are (bytes `00..0f` give the protocol.md §6.2
//! vector `ab3240d62f54a541`).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::time::{Duration, Instant};

use mptfo_proto::tfo::{cookie_for, Cookie, CookieCheck, CookieRequest, CookieValidator, TfoKey};

const IPPROTO_TCP: i32 = libc::IPPROTO_TCP;
const IPPROTO_MPTCP: i32 = 262;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn skip_unless_root() -> bool {
    if is_root() {
        return false;
    }
    // Straight to fd 2: libtest captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n******************************************************\n\
         *** SKIPPED kernel cookie test: needs root         ***\n\
         ******************************************************"
    );
    true
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Runs `f` on a new thread inside a new, private network namespace.
fn in_private_netns<F: FnOnce() + Send + 'static>(f: F) {
    let h = std::thread::spawn(move || {
        // SAFETY: unshare only changes this thread's namespace membership; no
        // memory is involved. CLONE_NEWNET is allowed in a multi-threaded process.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare(CLONE_NEWNET): {}", errno());
        f()
    });
    if let Err(p) = h.join() {
        std::panic::resume_unwind(p);
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e} (is iproute2 installed?)"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sysctl(name: &str, value: &str) {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {value:?} to {path}: {e}"));
}

fn sysctl_get(name: &str) -> String {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// lo up with the test's addresses; TFO client and server on.
fn setup_netns() {
    run(&["ip", "link", "set", "lo", "up"]);
    run(&["ip", "addr", "add", "10.0.1.1/32", "dev", "lo"]);
    run(&["ip", "addr", "add", "10.0.1.2/32", "dev", "lo"]);
    run(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00::1/128",
        "dev",
        "lo",
        "nodad",
    ]);
    run(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00::2/128",
        "dev",
        "lo",
        "nodad",
    ]);
    sysctl("net.ipv4.tcp_fastopen", "3");
    assert_eq!(sysctl_get("net.ipv4.tcp_fastopen").trim(), "3");
}

// ---------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------

fn sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn stream_socket(ip: IpAddr, proto: i32) -> OwnedFd {
    let family = if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "socket(proto {proto}): {}", errno());
    // SAFETY: fd is a freshly created descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn setsockopt_bytes(fd: RawFd, level: i32, opt: i32, val: &[u8], what: &str) {
    // SAFETY: val points to val.len() readable bytes for the duration of the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            val.as_ptr() as *const libc::c_void,
            val.len() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt {what}: {}", errno());
}

fn setsockopt_int(fd: RawFd, level: i32, opt: i32, val: i32, what: &str) {
    setsockopt_bytes(fd, level, opt, &val.to_ne_bytes(), what);
}

fn set_timeouts(fd: RawFd) {
    let tv = libc::timeval {
        tv_sec: 5,
        tv_usec: 0,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: tv is a valid timeval that outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_RCVTIMEO/SO_SNDTIMEO: {}", errno());
    }
}

fn bind(fd: RawFd, a: SocketAddr) {
    let (ss, len) = sockaddr(a);
    // SAFETY: ss holds a valid socket address of length len.
    let r = unsafe { libc::bind(fd, &ss as *const _ as *const libc::sockaddr, len) };
    assert_eq!(r, 0, "bind {a}: {}", errno());
}

fn local_port(fd: RawFd) -> u16 {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: ss and len are valid for writing; len holds ss's size.
    let r = unsafe { libc::getsockname(fd, &mut ss as *mut _ as *mut libc::sockaddr, &mut len) };
    assert_eq!(r, 0, "getsockname: {}", errno());
    // Both sockaddr_in and sockaddr_in6 keep the port right after the family.
    let p = if ss.ss_family as i32 == libc::AF_INET {
        // SAFETY: the kernel wrote a sockaddr_in here (family AF_INET).
        unsafe { (*(&ss as *const _ as *const libc::sockaddr_in)).sin_port }
    } else {
        // SAFETY: the kernel wrote a sockaddr_in6 here (family AF_INET6).
        unsafe { (*(&ss as *const _ as *const libc::sockaddr_in6)).sin6_port }
    };
    u16::from_be(p)
}

/// A TFO listener (`TCP_FASTOPEN` qlen 16), optionally with its own key.
fn tfo_listener(ip: IpAddr, proto: i32, key: Option<[u8; 16]>) -> (TcpListener, u16) {
    let fd = stream_socket(ip, proto);
    let raw = fd.as_raw_fd();
    setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1, "SO_REUSEADDR");
    setsockopt_int(
        raw,
        libc::IPPROTO_TCP,
        libc::TCP_FASTOPEN,
        16,
        "TCP_FASTOPEN",
    );
    if let Some(k) = key {
        setsockopt_bytes(
            raw,
            libc::IPPROTO_TCP,
            libc::TCP_FASTOPEN_KEY,
            &k,
            "TCP_FASTOPEN_KEY",
        );
    }
    set_timeouts(raw);
    bind(raw, SocketAddr::new(ip, 0));
    // SAFETY: raw is a valid socket owned by fd.
    let r = unsafe { libc::listen(raw, 16) };
    assert_eq!(r, 0, "listen: {}", errno());
    let port = local_port(raw);
    (TcpListener::from(fd), port)
}

/// A client bound to `client` that connects with `sendto(MSG_FASTOPEN)`.
fn tfo_connect(client: IpAddr, server: SocketAddr, proto: i32, data: &[u8]) -> (TcpStream, u16) {
    let fd = stream_socket(client, proto);
    let raw = fd.as_raw_fd();
    set_timeouts(raw);
    bind(raw, SocketAddr::new(client, 0));
    let port = local_port(raw);
    let (ss, len) = sockaddr(server);
    // SAFETY: data is readable for data.len() bytes; ss holds a valid address of length len.
    let n = unsafe {
        libc::sendto(
            raw,
            data.as_ptr() as *const libc::c_void,
            data.len(),
            libc::MSG_FASTOPEN,
            &ss as *const _ as *const libc::sockaddr,
            len,
        )
    };
    assert_eq!(n, data.len() as isize, "sendto(MSG_FASTOPEN): {}", errno());
    (TcpStream::from(fd), port)
}

// ---------------------------------------------------------------------------
// Capture on lo
// ---------------------------------------------------------------------------

/// An AF_PACKET socket on `lo` delivering network-layer packets.
struct Capture(OwnedFd);

/// One TCP segment seen on the wire.
#[derive(Debug, Clone)]
struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: usize,
    /// The TFO option's cookie (empty for a cookie request), if present.
    tfo: Option<Vec<u8>>,
    /// An MPTCP option (kind 30) is present.
    mptcp: bool,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

impl Capture {
    fn open() -> Capture {
        let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                proto,
            )
        };
        assert!(fd >= 0, "socket(AF_PACKET): {}", errno());
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = c"lo";
        // SAFETY: name is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(ifindex > 0, "if_nametoindex(lo): {}", errno());
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto as u16;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "bind AF_PACKET to lo: {}", errno());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: tv is a valid timeval that outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_RCVTIMEO: {}", errno());
        Capture(fd)
    }

    /// Every TCP segment received until the line stays quiet for 200 ms.
    fn drain(&self) -> Vec<Seg> {
        let mut buf = vec![0u8; 1 << 17];
        let mut segs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // SAFETY: buf is writable for buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = errno();
                match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => break,
                    std::io::ErrorKind::Interrupted => continue,
                    _ => panic!("recv AF_PACKET: {e}"),
                }
            }
            if let Some(s) = parse_seg(&buf[..n as usize]) {
                segs.push(s);
            }
        }
        segs
    }
}

fn parse_seg(p: &[u8]) -> Option<Seg> {
    let (src, dst, l4, end) = match p.first()? >> 4 {
        4 if p.len() >= 20 && p[9] == 6 => {
            let ihl = ((p[0] & 15) as usize) * 4;
            let total = u16::from_be_bytes([p[2], p[3]]) as usize;
            let s: [u8; 4] = p[12..16].try_into().ok()?;
            let d: [u8; 4] = p[16..20].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), ihl, total.min(p.len()))
        }
        6 if p.len() >= 40 && p[6] == 6 => {
            let plen = u16::from_be_bytes([p[4], p[5]]) as usize;
            let s: [u8; 16] = p[8..24].try_into().ok()?;
            let d: [u8; 16] = p[24..40].try_into().ok()?;
            (
                IpAddr::from(s),
                IpAddr::from(d),
                40,
                (40 + plen).min(p.len()),
            )
        }
        _ => return None,
    };
    let t = p.get(l4..end)?;
    if t.len() < 20 {
        return None;
    }
    let doff = ((t[12] >> 4) as usize) * 4;
    let opts = t.get(20..doff)?;
    let mut tfo = None;
    let mut mptcp = false;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = *opts.get(i + 1)? as usize;
                if len < 2 || i + len > opts.len() {
                    break;
                }
                match kind {
                    34 => tfo = Some(opts[i + 2..i + len].to_vec()),
                    30 => mptcp = true,
                    _ => {}
                }
                i += len;
            }
        }
    }
    Some(Seg {
        src: SocketAddr::new(src, u16::from_be_bytes([t[0], t[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([t[2], t[3]])),
        seq: u32::from_be_bytes(t[4..8].try_into().ok()?),
        ack: u32::from_be_bytes(t[8..12].try_into().ok()?),
        flags: t[13],
        payload: t.len() - doff,
        tfo,
        mptcp,
    })
}

// ---------------------------------------------------------------------------
// One TFO connection
// ---------------------------------------------------------------------------

/// The SYN and SYN/ACK of one TFO connection.
#[derive(Debug)]
struct Exchange {
    syn: Seg,
    synack: Seg,
}

impl Exchange {
    /// Cookie the SYN/ACK offered, if any.
    fn offered(&self) -> Option<Cookie> {
        self.synack.tfo.as_ref().map(|c| {
            assert!(!c.is_empty(), "SYN/ACK with an empty TFO option");
            Cookie::from_bytes(c).expect("cookie length 4..=16")
        })
    }
    /// Cookie the SYN carried (None: no TFO option; empty: a cookie request).
    fn presented(&self) -> Option<Cookie> {
        self.syn
            .tfo
            .as_ref()
            .map(|c| Cookie::from_bytes(c).expect("cookie length"))
    }
    /// The server acknowledged the SYN's data.
    fn data_accepted(&self) -> bool {
        self.syn.payload > 0
            && self.synack.ack == self.syn.seq.wrapping_add(1 + self.syn.payload as u32)
    }
}

const MSG: &[u8] = b"mptfo kernel cookie interop";

fn exchange(
    client: IpAddr,
    server: IpAddr,
    proto: i32,
    listener_key: Option<[u8; 16]>,
) -> Exchange {
    let cap = Capture::open();
    let (listener, sport) = tfo_listener(server, proto, listener_key);
    let server_sa = SocketAddr::new(server, sport);
    let (mut c, cport) = tfo_connect(client, server_sa, proto, MSG);
    let (mut s, peer) = listener.accept().expect("accept");
    assert_eq!(peer, SocketAddr::new(client, cport));
    let mut got = vec![0u8; MSG.len()];
    s.read_exact(&mut got)
        .expect("server reads the client's data");
    assert_eq!(got, MSG);
    s.write_all(b"ok").expect("server reply");
    let mut reply = [0u8; 2];
    c.read_exact(&mut reply).expect("client reads the reply");
    drop((c, s, listener));

    let client_sa = SocketAddr::new(client, cport);
    let segs = cap.drain();
    let syn = segs
        .iter()
        .find(|g| g.src == client_sa && g.dst == server_sa && g.flags & (SYN | ACK) == SYN)
        .cloned()
        .unwrap_or_else(|| panic!("no SYN {client_sa} -> {server_sa} captured"));
    let synack = segs
        .iter()
        .find(|g| g.src == server_sa && g.dst == client_sa && g.flags & (SYN | ACK) == SYN | ACK)
        .cloned()
        .unwrap_or_else(|| panic!("no SYN/ACK {server_sa} -> {client_sa} captured"));
    if proto == IPPROTO_MPTCP {
        assert!(
            syn.mptcp && synack.mptcp,
            "MPTCP socket without MP_CAPABLE: {syn:?} {synack:?}"
        );
    } else {
        assert!(!syn.mptcp && !synack.mptcp);
    }
    Exchange { syn, synack }
}

/// The cookie the client kernel cached for (client, server), from `ip tcp_metrics`.
fn cached_cookie(client: IpAddr, server: IpAddr) -> Option<String> {
    let out = run(&["ip", "tcp_metrics", "show", &server.to_string()]);
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let is_pair = words.first() == Some(&server.to_string().as_str())
            && words
                .windows(2)
                .any(|w| w[0] == "source" && w[1] == client.to_string());
        if is_pair {
            if let Some(p) = words.iter().position(|w| *w == "fo_cookie") {
                return words.get(p + 1).map(|s| s.to_string());
            }
        }
    }
    None
}

fn hex(c: &Cookie) -> String {
    c.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

/// Key bytes 00..0f: the protocol.md §6.2 vector's key.
fn key_0f() -> [u8; 16] {
    core::array::from_fn(|i| i as u8)
}

fn scenario(client: IpAddr, server: IpAddr, proto: i32) {
    setup_netns();
    let kind = if proto == IPPROTO_MPTCP {
        "MPTCP"
    } else {
        "TCP"
    };

    // 1. Netns key from the sysctl text; no cached cookie: a cookie request.
    let text1 = "00010203-04050607-08090a0b-0c0d0e0f";
    sysctl("net.ipv4.tcp_fastopen_key", text1);
    let k1 = TfoKey::parse_linux(text1).unwrap();
    let k1_as_bytes = TfoKey(key_0f()); // the other reading of the words
    let x = exchange(client, server, proto, None);
    assert_eq!(
        x.presented(),
        Some(Cookie::EMPTY),
        "first SYN is a cookie request"
    );
    assert_eq!(x.syn.payload, 0, "a cookie request carries no data");
    let c1 = x.offered().expect("SYN/ACK offers a cookie");
    assert_eq!(c1.len(), 8);
    assert_ne!(
        c1,
        cookie_for(&k1_as_bytes, client, server),
        "sysctl words read as big-endian bytes?"
    );
    assert_eq!(
        c1,
        cookie_for(&k1, client, server),
        "{kind} {client}->{server}: kernel cookie vs ours (sysctl words little-endian)"
    );
    let cached = cached_cookie(client, server);
    assert_eq!(
        cached.as_deref(),
        Some(hex(&c1).as_str()),
        "client's tcp_metrics cache"
    );
    eprintln!(
        "{kind} {client}->{server}: kernel cookie {} = cookie_for(ours)",
        hex(&c1)
    );

    // 2. Rotation: new primary, old key as backup. The client presents the
    // old cookie with data; the kernel accepts it and offers a fresh one.
    let k2 = TfoKey(*b"mptfo-rotation-2");
    sysctl(
        "net.ipv4.tcp_fastopen_key",
        &format!("{},{}", k2.linux(), k1.linux()),
    );
    let got = sysctl_get("net.ipv4.tcp_fastopen_key");
    assert_eq!(got.trim(), format!("{},{}", k2.linux(), k1.linux()));
    let x = exchange(client, server, proto, None);
    assert_eq!(x.presented(), Some(c1), "client presents its cached cookie");
    assert!(
        x.data_accepted(),
        "backup-key cookie: SYN data accepted: {x:?}"
    );
    let c2 = x
        .offered()
        .expect("backup-key cookie: fresh cookie offered");
    assert_eq!(c2, cookie_for(&k2, client, server), "fresh primary cookie");
    let mut v = CookieValidator::new(k1);
    v.rotate(k2);
    assert_eq!(v.primary, k2);
    assert_eq!(v.backup, Some(k1));
    assert_eq!(v.validate(client, server, &c1), CookieCheck::ValidBackup);
    assert_eq!(v.issue(client, server), c2);

    // 3. The fresh cookie: accepted on the primary key, none offered.
    let x = exchange(client, server, proto, None);
    assert_eq!(x.presented(), Some(c2));
    assert!(
        x.data_accepted(),
        "primary-key cookie: SYN data accepted: {x:?}"
    );
    assert_eq!(
        x.offered(),
        None,
        "no cookie echoed for a valid primary cookie"
    );
    assert_eq!(v.validate(client, server, &c2), CookieCheck::ValidPrimary);

    // The batch validator agrees on what the kernel did.
    let reqs = [
        CookieRequest {
            client,
            server,
            cookie: c1,
        },
        CookieRequest {
            client,
            server,
            cookie: c2,
        },
        CookieRequest {
            client: server,
            server: client,
            cookie: c2,
        },
    ];
    let mut out = [CookieCheck::Invalid; 3];
    v.validate_batch(&reqs, &mut out);
    assert_eq!(
        out,
        [
            CookieCheck::ValidBackup,
            CookieCheck::ValidPrimary,
            CookieCheck::Invalid
        ]
    );

    // 4. A listener with its own key (TCP_FASTOPEN_KEY, raw bytes 00..0f):
    // the cached cookie is invalid there, the data is dropped and a cookie of
    // the listener's key offered.
    let x = exchange(client, server, proto, Some(key_0f()));
    assert_eq!(x.presented(), Some(c2));
    assert!(
        !x.data_accepted(),
        "invalid cookie: data must not be acked: {x:?}"
    );
    let c3 = x.offered().expect("invalid cookie: a valid one offered");
    assert_eq!(c3, cookie_for(&TfoKey(key_0f()), client, server));
    if client == IpAddr::from([10, 0, 1, 1]) && server == IpAddr::from([10, 0, 1, 2]) {
        assert_eq!(hex(&c3), "ab3240d62f54a541", "protocol.md §6.2 vector");
    }
    assert_eq!(
        CookieValidator::new(TfoKey(key_0f())).validate(client, server, &c2),
        CookieCheck::Invalid
    );
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn kernel_cookie_ipv4_tcp() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| scenario(v4("10.0.1.1"), v4("10.0.1.2"), IPPROTO_TCP));
}

#[test]
fn kernel_cookie_ipv6_tcp() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| scenario(v4("fd00::1"), v4("fd00::2"), IPPROTO_TCP));
}

#[test]
fn kernel_cookie_ipv4_mptcp() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| scenario(v4("10.0.1.1"), v4("10.0.1.2"), IPPROTO_MPTCP));
}

#[test]
fn kernel_cookie_ipv6_mptcp() {
    if skip_unless_root() {
        return;
    }
    in_private_netns(|| scenario(v4("fd00::1"), v4("fd00::2"), IPPROTO_MPTCP));
}
