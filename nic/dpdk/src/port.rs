//! [`DpdkPort`]: an ethdev port set up with N queue pairs, and
//! [`DpdkQueue`]: one queue pair, the [`Port`] a worker owns.

use crate::buf::DpdkBuf;
use crate::eal::{port_name, Eal};
use crate::error::DpdkError;
use crate::ffi;
use crate::mempool::Mempool;
use mptfo_nic::{Buf, ChecksumCaps, Offload, Port, PortCaps, PortStats};
use std::cell::Cell;
use std::ffi::{c_char, CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Frames per call into the PMD (and the `max_burst` reported).
pub const BURST: usize = 32;

/// Frames that may always wait for a full transmit ring, in transmit rings'
/// worth (`PortConfig::tx_desc` each); a large pool allows more (see
/// [`DpdkQueue`]).
pub const BACKLOG_RINGS: usize = 4;

/// The control-path lock: every configure, start, stop, close, hot-plug
/// and hot-unplug of this crate runs under it (ethdev's control functions
/// are not thread safe), and it holds the ports configured by a live
/// `DpdkPort` of this process (configuring a port again under running
/// queues would pull them from under a worker).
static CONTROL: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn control() -> std::sync::MutexGuard<'static, Vec<u16>> {
    CONTROL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which ethdev port to configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// By port id.
    Id(u16),
    /// By device name (`"net_ring0"`, a PCI address, ...). When no port
    /// has that name and it names a virtual device (`net_*`), it is
    /// hot-plugged with `rte_dev_probe`: the whole string is the devargs
    /// (`"net_af_packet0,iface=veth0"`), the part before the first comma
    /// the name. A hot-plugged device is removed again when the port goes.
    Name(String),
}

impl From<u16> for PortRef {
    fn from(id: u16) -> PortRef {
        PortRef::Id(id)
    }
}

impl From<&str> for PortRef {
    fn from(name: &str) -> PortRef {
        PortRef::Name(name.to_owned())
    }
}

impl From<String> for PortRef {
    fn from(name: String) -> PortRef {
        PortRef::Name(name)
    }
}

/// How to set up a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Receive queues (one per worker).
    pub rx_queues: u16,
    /// Transmit queues (one per worker).
    pub tx_queues: u16,
    /// Descriptors per receive queue (adjusted to the PMD's limits).
    pub rx_desc: u16,
    /// Descriptors per transmit queue (adjusted to the PMD's limits).
    pub tx_desc: u16,
    /// MTU to set; `None` keeps the PMD's default.
    pub mtu: Option<u16>,
    /// Enable the IPv4 and TCP checksum offloads the PMD has (receive
    /// verification, transmit computation).
    pub checksum_offload: bool,
    /// Spread flows over the receive queues by RSS (symmetric Toeplitz
    /// key) when the PMD supports it and there is more than one queue.
    pub rss: bool,
    /// Receive frames for every destination address.
    pub promiscuous: bool,
}

impl Default for PortConfig {
    /// One queue pair, 1024 descriptors each way, the PMD's MTU, checksum
    /// offloads and RSS where available, not promiscuous.
    fn default() -> PortConfig {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            checksum_offload: true,
            rss: true,
            promiscuous: false,
        }
    }
}

/// Port-wide counters of the PMD (`rte_eth_stats_get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EthStats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames dropped by the hardware because no receive descriptor was
    /// free.
    pub imissed: u64,
    /// Erroneous frames received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive buffer allocation failures.
    pub rx_nombuf: u64,
}

/// What the PMD offers, as read by `rte_eth_dev_info_get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The PMD's driver name (`net_ring`, `net_af_packet`, ...).
    pub driver: String,
    /// Most receive queues.
    pub max_rx_queues: u16,
    /// Most transmit queues.
    pub max_tx_queues: u16,
    /// Smallest settable MTU.
    pub min_mtu: u16,
    /// Largest settable MTU.
    pub max_mtu: u16,
    /// Receive IPv4 checksum offload (`RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`).
    pub rx_ipv4_checksum: bool,
    /// Receive TCP checksum offload (`RTE_ETH_RX_OFFLOAD_TCP_CKSUM`).
    pub rx_tcp_checksum: bool,
    /// Transmit IPv4 checksum offload (`RTE_ETH_TX_OFFLOAD_IPV4_CKSUM`).
    pub tx_ipv4_checksum: bool,
    /// Transmit TCP checksum offload (`RTE_ETH_TX_OFFLOAD_TCP_CKSUM`).
    pub tx_tcp_checksum: bool,
    /// RSS flow types the PMD can hash (`flow_type_rss_offloads`).
    pub rss_flow_types: u64,
    /// Kernel interface index behind the port (af_packet, tap), or 0.
    pub if_index: u32,
}

/// The port itself, shared by the `DpdkPort` handle and its queues; the
/// last one to go stops and closes the port.
#[derive(Debug)]
struct PortInner {
    id: u16,
    name: String,
    hotplugged: bool,
    info: DeviceInfo,
    caps: PortCaps,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        let mut claimed = control();
        // SAFETY: no queue of the port exists any more (each held this
        // Arc), so no burst call runs concurrently, and the control lock is
        // held; stopping releases the mbufs the PMD holds, before the
        // mempool (which bounds the port's lifetime) can go.
        unsafe {
            let rc = ffi::rte_eth_dev_stop(self.id);
            if rc != 0 {
                eprintln!("mptfo-dpdk: rte_eth_dev_stop({}) -> {rc}", self.id);
            }
        }
        release(self.id, self.hotplugged.then_some(self.name.as_str()));
        if self.info.driver == "net_af_xdp" {
            crate::eal::STRANDED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        crate::eal::OPEN_PORTS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        claimed.retain(|&p| p != self.id);
    }
}

/// Closes a port, and removes its device when we hot-plugged it. Called
/// with the control lock held, on a stopped (or never started) port no
/// queue of which is in use.
fn release(id: u16, hotplugged: Option<&str>) {
    crate::eal::PORTS_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: see above: the caller guarantees the port is idle and holds
    // the control lock.
    let rc = unsafe { ffi::rte_eth_dev_close(id) };
    if rc != 0 {
        eprintln!("mptfo-dpdk: rte_eth_dev_close({id}) -> {rc}");
    }
    if let Some(name) = hotplugged.and_then(|n| CString::new(n).ok()) {
        // SAFETY: valid C strings for the call; the device was probed by us
        // and its port is closed.
        let rc = unsafe { ffi::rte_eal_hotplug_remove(c"vdev".as_ptr(), name.as_ptr()) };
        if rc != 0 {
            eprintln!("mptfo-dpdk: rte_eal_hotplug_remove({name:?}) -> {rc}");
        }
    }
}

/// A configured and started ethdev port. Dropping it (and all its
/// queues) stops and closes the port.
#[derive(Debug)]
pub struct DpdkPort<'a> {
    inner: Arc<PortInner>,
    _p: PhantomData<&'a ()>,
}

fn lookup(name: &str) -> Option<u16> {
    let c = CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: c is a valid C string and id a valid out-pointer for the
    // duration of the call.
    let rc = unsafe { ffi::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    (rc == 0).then_some(id)
}

fn known_ports(eal: &Eal) -> String {
    let list: Vec<String> = eal
        .ports()
        .into_iter()
        .map(|(id, name)| format!("{id}={name}"))
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn device_info(id: u16) -> Result<DeviceInfo, DpdkError> {
    let mut raw = ffi::mptfo_port_info::default();
    // SAFETY: raw is a valid out-pointer; the port id was validated.
    let rc = unsafe { ffi::mptfo_port_info(id, &mut raw) };
    if rc != 0 {
        return Err(DpdkError::call("rte_eth_dev_info_get", rc));
    }
    // SAFETY: the shim NUL-terminates driver_name (zeroed, strncpy of at
    // most len - 1 bytes).
    let driver = unsafe { CStr::from_ptr(raw.driver_name.as_ptr() as *const c_char) };
    Ok(DeviceInfo {
        driver: driver.to_string_lossy().into_owned(),
        max_rx_queues: raw.max_rx_queues,
        max_tx_queues: raw.max_tx_queues,
        min_mtu: raw.min_mtu,
        max_mtu: raw.max_mtu,
        rx_ipv4_checksum: raw.rx_ipv4_cksum != 0,
        rx_tcp_checksum: raw.rx_tcp_cksum != 0,
        tx_ipv4_checksum: raw.tx_ipv4_cksum != 0,
        tx_tcp_checksum: raw.tx_tcp_cksum != 0,
        rss_flow_types: raw.flow_type_rss_offloads,
        if_index: raw.if_index,
    })
}

fn offload(rx: bool, tx: bool) -> Offload {
    match (rx, tx) {
        (true, true) => Offload::Both,
        (true, false) => Offload::Rx,
        (false, true) => Offload::Tx,
        (false, false) => Offload::None,
    }
}

/// The port id and name `dev` refers to, hot-plugging a virtual device
/// that does not exist yet (third: whether we did). Called with the
/// control lock held.
fn resolve(eal: &Eal, dev: PortRef) -> Result<(u16, String, bool), DpdkError> {
    match dev {
        PortRef::Id(id) => {
            // SAFETY: EAL is initialised; any id is accepted.
            if unsafe { ffi::rte_eth_dev_is_valid_port(id) } == 0 {
                return Err(DpdkError::NoSuchPort {
                    name: id.to_string(),
                    known: known_ports(eal),
                });
            }
            Ok((id, port_name(id).unwrap_or_default(), false))
        }
        PortRef::Name(spec) => {
            let name = spec.split(',').next().unwrap_or_default().to_owned();
            if let Some(id) = lookup(&name) {
                return Ok((id, name, false));
            }
            if !name.starts_with("net_") {
                return Err(DpdkError::NoSuchPort {
                    name,
                    known: known_ports(eal),
                });
            }
            let devargs = CString::new(spec.as_str())
                .map_err(|_| DpdkError::InvalidArgument(format!("device {spec:?} has a NUL")))?;
            // SAFETY: devargs is a valid C string; EAL is initialised and
            // the control lock is held.
            let rc = unsafe { ffi::rte_dev_probe(devargs.as_ptr()) };
            if rc != 0 {
                return Err(DpdkError::call("rte_dev_probe", rc));
            }
            let id = lookup(&name).ok_or_else(|| DpdkError::NoSuchPort {
                name: name.clone(),
                known: known_ports(eal),
            })?;
            Ok((id, name, true))
        }
    }
}

/// Configures, starts and describes port `id`. Called with the control
/// lock held, on a port no `DpdkPort` owns.
fn setup(
    id: u16,
    name: &str,
    config: &PortConfig,
    pool: &Mempool<'_>,
) -> Result<(DeviceInfo, PortCaps), DpdkError> {
    let info = device_info(id)?;
    if config.rx_queues > info.max_rx_queues || config.tx_queues > info.max_tx_queues {
        return Err(DpdkError::InvalidArgument(format!(
            "{name} ({}) has at most {} rx and {} tx queues, asked for {} and {}",
            info.driver, info.max_rx_queues, info.max_tx_queues, config.rx_queues, config.tx_queues
        )));
    }
    let csum = config.checksum_offload;
    let rss = config.rss && config.rx_queues > 1 && info.rss_flow_types != 0;
    let conf = ffi::mptfo_port_conf {
        rx_queues: config.rx_queues,
        tx_queues: config.tx_queues,
        rx_desc: config.rx_desc,
        tx_desc: config.tx_desc,
        mtu: config.mtu.map_or(0, u32::from),
        rx_ipv4_cksum: u8::from(csum && info.rx_ipv4_checksum),
        rx_tcp_cksum: u8::from(csum && info.rx_tcp_checksum),
        tx_ipv4_cksum: u8::from(csum && info.tx_ipv4_checksum),
        tx_tcp_cksum: u8::from(csum && info.tx_tcp_checksum),
        rss: u8::from(rss),
    };
    let mut step = 0;
    // SAFETY: conf and step are valid for the call; the pool outlives the
    // port (the port's owners all borrow it, and the last one stops the
    // port); no queue of the port runs (no DpdkPort owns it) and the
    // control lock is held.
    let rc = unsafe { ffi::mptfo_port_configure(id, &conf, pool.raw().as_ptr(), &mut step) };
    if rc != 0 {
        let call = match step as u32 {
            ffi::MPTFO_STEP_CONFIGURE => "rte_eth_dev_configure",
            ffi::MPTFO_STEP_ADJUST_DESC => "rte_eth_dev_adjust_nb_rx_tx_desc",
            ffi::MPTFO_STEP_RX_QUEUE => "rte_eth_rx_queue_setup",
            ffi::MPTFO_STEP_TX_QUEUE => "rte_eth_tx_queue_setup",
            _ => "rte_eth_dev_info_get",
        };
        return Err(DpdkError::call(call, rc));
    }
    let mut mac = ffi::rte_ether_addr::default();
    // SAFETY: mac is a valid out-pointer.
    let rc = unsafe { ffi::rte_eth_macaddr_get(id, &mut mac) };
    if rc != 0 {
        return Err(DpdkError::call("rte_eth_macaddr_get", rc));
    }
    let mut mtu = 0u16;
    // SAFETY: mtu is a valid out-pointer.
    if unsafe { ffi::rte_eth_dev_get_mtu(id, &mut mtu) } != 0 {
        mtu = config.mtu.unwrap_or(1500);
    }
    // SAFETY: the port is configured, not started, and the control lock is
    // held.
    let rc = unsafe { ffi::rte_eth_dev_start(id) };
    if rc != 0 {
        return Err(DpdkError::call("rte_eth_dev_start", rc));
    }
    if config.promiscuous {
        // SAFETY: a started port; the control lock is held. Failure is not
        // fatal (some PMDs have no such mode): the port works for its own
        // address.
        let rc = unsafe { ffi::rte_eth_promiscuous_enable(id) };
        if rc != 0 {
            eprintln!("mptfo-dpdk: promiscuous mode on {name}: error {rc}");
        }
    }
    let caps = PortCaps {
        checksum: ChecksumCaps {
            ipv4: offload(conf.rx_ipv4_cksum != 0, conf.tx_ipv4_cksum != 0),
            tcp: offload(conf.rx_tcp_cksum != 0, conf.tx_tcp_cksum != 0),
        },
        mtu,
        mac: mac.addr_bytes,
        max_burst: BURST,
        rss,
    };
    Ok((info, caps))
}

impl<'a> DpdkPort<'a> {
    /// Configures port `dev` with `config` (receive queues fed from
    /// `pool`), starts it, and returns it with one [`DpdkQueue`] per queue
    /// pair: `max(rx_queues, tx_queues)` of them, queue `i` owning receive
    /// queue `i` and transmit queue `i` where they exist.
    ///
    /// Checksum offloads the PMD has are enabled (if
    /// `config.checksum_offload`) and reported in the queues' `caps()`.
    pub fn configure(
        eal: &'a Eal,
        dev: impl Into<PortRef>,
        config: &PortConfig,
        pool: &'a Mempool<'_>,
    ) -> Result<(DpdkPort<'a>, Vec<DpdkQueue<'a>>), DpdkError> {
        if config.rx_queues == 0 && config.tx_queues == 0 {
            return Err(DpdkError::InvalidArgument(
                "a port needs at least one queue".into(),
            ));
        }
        let mut claimed = control();
        let (id, name, hotplugged) = resolve(eal, dev.into())?;
        if claimed.contains(&id) {
            return Err(DpdkError::PortInUse(id));
        }
        let (info, caps) = match setup(id, &name, config, pool) {
            Ok(v) => v,
            Err(e) => {
                if hotplugged {
                    release(id, Some(&name));
                }
                return Err(e);
            }
        };
        claimed.push(id);
        crate::eal::OPEN_PORTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        drop(claimed);

        let inner = Arc::new(PortInner {
            id,
            name,
            hotplugged,
            info,
            caps,
        });
        let n = config.rx_queues.max(config.tx_queues);
        let copy_shared = inner.info.driver == "net_af_xdp";
        // The receive path's share of the pool: a ring's worth per receive
        // queue, at most a quarter of the pool.
        let rx_reserve =
            (u32::from(config.rx_desc) * u32::from(config.rx_queues)).min(pool.size() / 4);
        let backlog_limit = (BACKLOG_RINGS * usize::from(config.tx_desc.max(1)))
            .max((pool.size() - rx_reserve) as usize / 2);
        let queues = (0..n)
            .map(|q| DpdkQueue {
                port: Arc::clone(&inner),
                port_id: id,
                rxq: (q < config.rx_queues).then_some(q),
                txq: (q < config.tx_queues).then_some(q),
                pool: pool.raw(),
                caps,
                max_frame: usize::from(caps.mtu) + 14,
                stats: PortStats::default(),
                cache: Vec::with_capacity(BURST),
                copy_shared,
                rx_reserve,
                backlog_limit,
                _p: PhantomData,
            })
            .collect();
        Ok((
            DpdkPort {
                inner,
                _p: PhantomData,
            },
            queues,
        ))
    }

    /// The ethdev port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What the PMD offers.
    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// The capabilities every queue of the port reports.
    pub fn caps(&self) -> PortCaps {
        self.inner.caps
    }

    /// Whether the link is up (`rte_eth_link_get_nowait`); a memif link is
    /// up once its peer has connected.
    pub fn link_up(&self) -> bool {
        // SAFETY: a configured port of ours; the shim passes a local
        // rte_eth_link.
        unsafe { ffi::mptfo_link_up(self.inner.id) == 1 }
    }

    /// The PMD's port-wide counters.
    pub fn eth_stats(&self) -> Result<EthStats, DpdkError> {
        eth_stats(self.inner.id)
    }
}

fn eth_stats(id: u16) -> Result<EthStats, DpdkError> {
    let mut s = ffi::rte_eth_stats::default();
    // SAFETY: s is a valid out-pointer; the port is configured.
    let rc = unsafe { ffi::rte_eth_stats_get(id, &mut s) };
    if rc != 0 {
        return Err(DpdkError::call("rte_eth_stats_get", rc));
    }
    Ok(EthStats {
        ipackets: s.ipackets,
        opackets: s.opackets,
        ibytes: s.ibytes,
        obytes: s.obytes,
        imissed: s.imissed,
        ierrors: s.ierrors,
        oerrors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    })
}

/// One queue pair of a [`DpdkPort`]: the [`Port`] one worker owns.
///
/// `Send` (a worker thread takes it) but not `Sync`: a DPDK queue must not
/// be polled by two threads at once. It keeps up to [`BURST`] fresh
/// buffers, allocated in bulk, for [`Port::alloc`] and for the indirect
/// mbufs that send shared buffers; [`DpdkQueue::release_cache`] returns
/// them to the pool.
///
/// Sending a buffer: when its handle is the only reference, the handle's
/// window and offload requests are written into the mbuf and the mbuf goes
/// to the PMD. When the buffer is shared (a retransmission queue keeps a
/// reference), a fresh mbuf from the cache is attached to it as an
/// indirect mbuf (`rte_pktmbuf_attach`) carrying this handle's window, so
/// that the other references' windows and any earlier transmission of the
/// same bytes still in flight are left alone. net_af_xdp (DPDK 22.11)
/// cannot send indirect mbufs: it derives the frame's UMEM address from
/// the mbuf header, not from where the data is, and the kernel sends
/// whatever lies there (zeros, shifted bytes). On such a port a shared
/// buffer's window is copied into the fresh mbuf instead.
///
/// Buffers and the receive path: a PMD that copies frames out of its ring
/// (net_memif, for one) allocates an mbuf per received frame from
/// the same pool, and when none is free it leaves the frame in the ring
/// without counting anything (net_memif counts no `rx_nombuf`); the sender
/// then finds the ring full. If both ends' pools are held by frames waiting
/// to be sent and by retransmission queues, neither receives the ACKs that
/// would free them. So allocation ([`Port::alloc`], and the mbufs that
/// send shared buffers) leaves a reserve free for the receive path: a
/// receive ring's worth per receive queue, at most a quarter of the pool.
/// Frames the PMD refuses wait in the caller's vector for the next
/// `tx_burst`, up to [`BACKLOG_RINGS`] transmit rings' worth or half the
/// pool left after the reserve, whichever is more; older ones beyond that
/// are discarded and counted in `tx_dropped`.
#[derive(Debug)]
pub struct DpdkQueue<'a> {
    port: Arc<PortInner>,
    port_id: u16,
    rxq: Option<u16>,
    txq: Option<u16>,
    pool: NonNull<ffi::rte_mempool>,
    caps: PortCaps,
    max_frame: usize,
    stats: PortStats,
    cache: Vec<DpdkBuf<'a>>,
    /// Shared buffers are sent as copies, not indirect mbufs (net_af_xdp).
    copy_shared: bool,
    /// Free buffers the allocation cache leaves in the pool for the PMD's
    /// receive path.
    rx_reserve: u32,
    /// Most frames left waiting in `tx_burst`'s vector after the PMD
    /// refused some; older ones beyond it are discarded (`tx_dropped`).
    backlog_limit: usize,
    /// Send but not Sync (Cell), and bounded by the pool's borrow.
    _p: PhantomData<(&'a (), Cell<()>)>,
}

// SAFETY: the queue is used through `&mut self` only and is not Sync, so
// one thread at a time polls its DPDK queues; the pool pointer is to a
// thread-safe (MP/MC) pool that lives for 'a; buffers in the cache are Send.
unsafe impl Send for DpdkQueue<'_> {}

impl<'a> DpdkQueue<'a> {
    /// The ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// The receive queue id, if the queue pair has one.
    pub fn rx_queue(&self) -> Option<u16> {
        self.rxq
    }

    /// The transmit queue id, if the queue pair has one.
    pub fn tx_queue(&self) -> Option<u16> {
        self.txq
    }

    /// The PMD's port-wide counters.
    pub fn eth_stats(&self) -> Result<EthStats, DpdkError> {
        eth_stats(self.port.id)
    }

    /// Fresh buffers kept for allocation (counted as in use by the pool).
    pub fn cached_buffers(&self) -> usize {
        self.cache.len()
    }

    /// Returns the buffers kept for allocation to the pool.
    pub fn release_cache(&mut self) {
        self.cache.clear();
    }

    /// Refills the allocation cache with up to [`BURST`] fresh buffers;
    /// false when the pool had none beyond the receive path's reserve.
    fn refill(&mut self) -> bool {
        // SAFETY: the pool lives for 'a; the count is only read.
        let avail = unsafe { ffi::rte_mempool_avail_count(self.pool.as_ptr()) };
        let spare = avail.saturating_sub(self.rx_reserve);
        if spare == 0 {
            return false;
        }
        let mut pkts = [std::ptr::null_mut::<ffi::rte_mbuf>(); BURST];
        let mut info = [ffi::mptfo_mbuf_info::default(); BURST];
        for want in [(BURST as u32).min(spare) as u16, 1] {
            // SAFETY: pkts and info have room for `want` entries; the pool
            // lives for 'a.
            let got = unsafe {
                ffi::mptfo_alloc_bulk(
                    self.pool.as_ptr(),
                    pkts.as_mut_ptr(),
                    info.as_mut_ptr(),
                    want,
                )
            };
            if got > 0 {
                for i in (0..usize::from(got)).rev() {
                    let m = NonNull::new(pkts[i]).expect("rte_pktmbuf_alloc_bulk gave NULL");
                    // SAFETY: a fresh mbuf (refcnt 1) of a pool living for
                    // 'a, owned by us, described by the shim's info.
                    self.cache.push(unsafe { DpdkBuf::from_raw(m, &info[i]) });
                }
                return true;
            }
        }
        false
    }

    #[inline]
    fn fresh(&mut self) -> Option<DpdkBuf<'a>> {
        if self.cache.is_empty() && !self.refill() {
            return None;
        }
        self.cache.pop()
    }
}

/// The offload part of a transmit descriptor, within what the port enabled
/// (`caps`). Zeroes the IPv4 checksum field first when it may write (DPDK
/// asks for 0 there when the NIC computes it).
#[inline]
fn tx_flags(caps: ChecksumCaps, b: &mut DpdkBuf<'_>, d: &mut ffi::mptfo_tx_desc) {
    let off = b.tx_offload();
    if !off.ipv4_checksum && !off.tcp_checksum {
        return;
    }
    let l2 = usize::from(off.l2_len);
    d.l2_len = off.l2_len;
    d.l3_len = off.l3_len;
    let version = b.data().get(l2).map(|v| v >> 4);
    if off.ipv4_checksum && !caps.ipv4.compute_tx() && version == Some(4) {
        d.ip_cksum = 1;
        d.tx_ipv4 = 1;
        if let Some(field) = b.data_mut().and_then(|f| f.get_mut(l2 + 10..l2 + 12)) {
            field.fill(0);
        }
    }
    if off.tcp_checksum && !caps.tcp.compute_tx() {
        match version {
            Some(4) => {
                d.tcp_cksum = 1;
                d.tx_ipv4 = 1;
            }
            Some(6) => {
                d.tcp_cksum = 1;
                d.tx_ipv6 = 1;
            }
            _ => {}
        }
    }
}

impl<'a> Port for DpdkQueue<'a> {
    type Buf = DpdkBuf<'a>;

    fn rx_burst(&mut self, out: &mut Vec<DpdkBuf<'a>>, max: usize) -> usize {
        let Some(q) = self.rxq else { return 0 };
        let mut total = 0;
        while total < max {
            let want = (max - total).min(BURST);
            let mut pkts = [std::ptr::null_mut::<ffi::rte_mbuf>(); BURST];
            let mut info = [ffi::mptfo_mbuf_info::default(); BURST];
            // SAFETY: pkts and info have room for `want` (<= BURST)
            // entries; this queue is polled by this thread only (&mut self,
            // !Sync).
            let got = unsafe {
                ffi::mptfo_rx_burst(
                    self.port_id,
                    q,
                    pkts.as_mut_ptr(),
                    info.as_mut_ptr(),
                    want as u16,
                )
            };
            let got = usize::from(got);
            for (p, i) in pkts[..got].iter().zip(&info[..got]) {
                let m = NonNull::new(*p).expect("rte_eth_rx_burst gave NULL");
                // SAFETY: the PMD hands over one reference to each mbuf it
                // returns; its pool is `pool` (the rx queues' pool), which
                // lives for 'a; info describes it.
                let buf = unsafe { DpdkBuf::from_raw(m, i) };
                if i.nb_segs != 1 || i.external != 0 {
                    // A chained (scattered) frame, or one in memory the PMD
                    // owns (a zero-copy mode: it would dangle once the port
                    // is closed, which buffers do not prevent): dropped.
                    self.stats.rx_dropped += 1;
                    continue;
                }
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += buf.len() as u64;
                out.push(buf);
                total += 1;
            }
            if got < want {
                break;
            }
        }
        total
    }

    fn tx_burst(&mut self, pkts: &mut Vec<DpdkBuf<'a>>) -> usize {
        let Some(q) = self.txq else { return 0 };
        let mut accepted = 0;
        loop {
            // Frames too long for the port are accepted and dropped.
            while pkts.first().is_some_and(|b| b.len() > self.max_frame) {
                drop(pkts.remove(0));
                self.stats.tx_dropped += 1;
                accepted += 1;
            }
            if pkts.is_empty() {
                break;
            }
            let mut mbufs = [std::ptr::null_mut::<ffi::rte_mbuf>(); BURST];
            let mut descs = [ffi::mptfo_tx_desc::default(); BURST];
            let mut attached = [false; BURST];
            let mut ready = 0;
            while ready < BURST && ready < pkts.len() && pkts[ready].len() <= self.max_frame {
                let mut d = ffi::mptfo_tx_desc {
                    data_off: pkts[ready].offset(),
                    data_len: pkts[ready].len() as u16,
                    ..Default::default()
                };
                if pkts[ready].ref_count() == 1 {
                    mbufs[ready] = pkts[ready].raw().as_ptr();
                    tx_flags(self.caps.checksum, &mut pkts[ready], &mut d);
                } else if self.copy_shared {
                    let Some(mut copy) = self.fresh() else { break };
                    if !copy.append_slice(pkts[ready].data()) {
                        break; // cannot happen: frames fit a data room
                    }
                    copy.set_tx_offload(pkts[ready].tx_offload());
                    d.data_off = copy.offset();
                    tx_flags(self.caps.checksum, &mut copy, &mut d);
                    mbufs[ready] = copy.into_raw().as_ptr();
                    attached[ready] = true;
                } else {
                    let Some(clone) = self.fresh() else { break };
                    d.attach_to = pkts[ready].raw().as_ptr();
                    mbufs[ready] = clone.into_raw().as_ptr();
                    attached[ready] = true;
                    tx_flags(self.caps.checksum, &mut pkts[ready], &mut d);
                }
                descs[ready] = d;
                ready += 1;
            }
            if ready == 0 {
                break; // no buffer for an indirect mbuf
            }
            // SAFETY: mbufs[..ready] are valid mbufs we own a reference to
            // (the sole reference of a handle, or a fresh mbuf to attach to
            // a live direct mbuf); descs describe windows inside their data
            // rooms; this queue is used by this thread only.
            let sent = unsafe {
                ffi::mptfo_tx_burst(
                    self.port_id,
                    q,
                    mbufs.as_mut_ptr(),
                    descs.as_ptr(),
                    ready as u16,
                )
            };
            let sent = usize::from(sent);
            for (i, m) in mbufs.iter().enumerate().take(ready).skip(sent) {
                if attached[i] {
                    // SAFETY: an indirect mbuf (or a copy) the PMD did not
                    // take, ours alone: freeing it detaches it (its direct
                    // mbuf keeps the handle's reference).
                    unsafe { ffi::mptfo_free(*m) };
                }
            }
            for (i, b) in pkts.drain(..sent).enumerate() {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += b.len() as u64;
                if attached[i] {
                    drop(b); // the indirect mbuf (or copy) went instead
                } else {
                    let _ = b.into_raw(); // the PMD took this reference
                }
            }
            accepted += sent;
            if sent < ready {
                break;
            }
        }
        // The PMD's ring is full: what it refused waits for the next call,
        // up to a bound. The oldest frames beyond it are discarded and
        // counted, so that frames waiting for the ring cannot take the whole
        // pool (the peer's retransmission timers recover them).
        if pkts.len() > self.backlog_limit {
            let excess = pkts.len() - self.backlog_limit;
            pkts.drain(..excess);
            self.stats.tx_dropped += excess as u64;
            accepted += excess;
        }
        accepted
    }

    fn alloc(&mut self) -> Option<DpdkBuf<'a>> {
        self.fresh()
    }

    fn caps(&self) -> PortCaps {
        self.caps
    }

    fn stats(&self) -> PortStats {
        let mut s = self.stats;
        // Drops the PMD counts for the whole port are reported by the queue
        // pair 0 only, so that summing the queues counts them once.
        if self.rxq == Some(0) {
            if let Ok(e) = eth_stats(self.port.id) {
                s.rx_dropped += e.imissed + e.rx_nombuf;
            }
        }
        s
    }
}
