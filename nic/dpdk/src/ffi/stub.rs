//! Stand-ins for the binding in a build without DPDK (`cfg(mptfo_no_dpdk)`):
//! the same names and signatures as bindgen's output for what the crate
//! uses, so the safe layer compiles unchanged. None of the functions is
//! ever called: every path to them needs an `Eal`, and `Eal::init` returns
//! `DpdkError::NotInstalled` in this build. Each one panics if that
//! invariant is ever broken.
#![allow(non_camel_case_types, dead_code, clippy::missing_safety_doc)]

use std::os::raw::{c_char, c_int, c_uint};

const NO_DPDK: &str = "mptfo-dpdk was built without DPDK (unreachable: Eal::init fails first)";

pub const RTE_MAX_ETHPORTS: u32 = 32;
pub const RTE_PKTMBUF_HEADROOM: u32 = 128;
pub const MPTFO_CKSUM_UNKNOWN: u32 = 0;
pub const MPTFO_CKSUM_GOOD: u32 = 1;
pub const MPTFO_CKSUM_BAD: u32 = 2;
pub const MPTFO_STEP_CONFIGURE: u32 = 1;
pub const MPTFO_STEP_ADJUST_DESC: u32 = 2;
pub const MPTFO_STEP_RX_QUEUE: u32 = 3;
pub const MPTFO_STEP_TX_QUEUE: u32 = 4;
pub const MPTFO_STEP_INFO: u32 = 5;

/// Only ever behind a pointer that cannot be made in this build.
#[repr(C)]
pub struct rte_mbuf {
    pub refcnt: u16,
}

/// Only ever behind a pointer that cannot be made in this build.
#[repr(C)]
pub struct rte_mempool {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Default, Copy, Clone)]
pub struct rte_ether_addr {
    pub addr_bytes: [u8; 6],
}

#[repr(C)]
#[derive(Default, Copy, Clone)]
pub struct rte_eth_stats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

#[repr(C)]
#[derive(Copy, Clone)]
pub struct mptfo_mbuf_info {
    pub buf_addr: *mut u8,
    pub buf_len: u16,
    pub data_off: u16,
    pub data_len: u16,
    pub nb_segs: u16,
    pub ip_cksum: u8,
    pub l4_cksum: u8,
    pub indirect: u8,
    pub external: u8,
}

impl Default for mptfo_mbuf_info {
    fn default() -> Self {
        mptfo_mbuf_info {
            buf_addr: std::ptr::null_mut(),
            buf_len: 0,
            data_off: 0,
            data_len: 0,
            nb_segs: 0,
            ip_cksum: 0,
            l4_cksum: 0,
            indirect: 0,
            external: 0,
        }
    }
}

#[repr(C)]
#[derive(Copy, Clone)]
pub struct mptfo_tx_desc {
    pub attach_to: *mut rte_mbuf,
    pub data_off: u16,
    pub data_len: u16,
    pub l2_len: u16,
    pub l3_len: u16,
    pub tx_ipv4: u8,
    pub tx_ipv6: u8,
    pub ip_cksum: u8,
    pub tcp_cksum: u8,
}

impl Default for mptfo_tx_desc {
    fn default() -> Self {
        mptfo_tx_desc {
            attach_to: std::ptr::null_mut(),
            data_off: 0,
            data_len: 0,
            l2_len: 0,
            l3_len: 0,
            tx_ipv4: 0,
            tx_ipv6: 0,
            ip_cksum: 0,
            tcp_cksum: 0,
        }
    }
}

#[repr(C)]
#[derive(Copy, Clone)]
pub struct mptfo_port_info {
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub min_mtu: u16,
    pub max_mtu: u16,
    pub rx_ipv4_cksum: u8,
    pub rx_tcp_cksum: u8,
    pub tx_ipv4_cksum: u8,
    pub tx_tcp_cksum: u8,
    pub hash_key_size: u8,
    pub flow_type_rss_offloads: u64,
    pub if_index: u32,
    pub driver_name: [c_char; 64],
}

impl Default for mptfo_port_info {
    fn default() -> Self {
        mptfo_port_info {
            max_rx_queues: 0,
            max_tx_queues: 0,
            min_mtu: 0,
            max_mtu: 0,
            rx_ipv4_cksum: 0,
            rx_tcp_cksum: 0,
            tx_ipv4_cksum: 0,
            tx_tcp_cksum: 0,
            hash_key_size: 0,
            flow_type_rss_offloads: 0,
            if_index: 0,
            driver_name: [0; 64],
        }
    }
}

#[repr(C)]
#[derive(Default, Copy, Clone)]
pub struct mptfo_port_conf {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: u32,
    pub rx_ipv4_cksum: u8,
    pub rx_tcp_cksum: u8,
    pub tx_ipv4_cksum: u8,
    pub tx_tcp_cksum: u8,
    pub rss: u8,
}

pub unsafe fn rte_dev_probe(_: *const c_char) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eal_hotplug_remove(_: *const c_char, _: *const c_char) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eal_init(_: c_int, _: *mut *mut c_char) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eal_cleanup() -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_strerror(_: c_int) -> *const c_char {
    c"DPDK is not installed".as_ptr()
}
pub unsafe fn rte_socket_id() -> c_uint {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_thread_register() -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_thread_unregister() {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_mempool_free(_: *mut rte_mempool) {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_mempool_avail_count(_: *const rte_mempool) -> c_uint {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_mempool_in_use_count(_: *const rte_mempool) -> c_uint {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_pktmbuf_pool_create_by_ops(
    _: *const c_char,
    _: c_uint,
    _: c_uint,
    _: u16,
    _: u16,
    _: c_int,
    _: *const c_char,
) -> *mut rte_mempool {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_count_avail() -> u16 {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_is_valid_port(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_start(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_stop(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_close(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_promiscuous_enable(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_stats_get(_: u16, _: *mut rte_eth_stats) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_macaddr_get(_: u16, _: *mut rte_ether_addr) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_get_mtu(_: u16, _: *mut u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_get_port_by_name(_: *const c_char, _: *mut u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn rte_eth_dev_get_name_by_port(_: u16, _: *mut c_char) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_errno() -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_lcore_id() -> u32 {
    u32::MAX
}
pub unsafe fn mptfo_port_info(_: u16, _: *mut mptfo_port_info) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_port_configure(
    _: u16,
    _: *const mptfo_port_conf,
    _: *mut rte_mempool,
    _: *mut c_int,
) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_link_up(_: u16) -> c_int {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_rx_burst(
    _: u16,
    _: u16,
    _: *mut *mut rte_mbuf,
    _: *mut mptfo_mbuf_info,
    _: u16,
) -> u16 {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_tx_burst(
    _: u16,
    _: u16,
    _: *mut *mut rte_mbuf,
    _: *const mptfo_tx_desc,
    _: u16,
) -> u16 {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_alloc_bulk(
    _: *mut rte_mempool,
    _: *mut *mut rte_mbuf,
    _: *mut mptfo_mbuf_info,
    _: u16,
) -> u16 {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_free(_: *mut rte_mbuf) {
    unreachable!("{NO_DPDK}")
}
pub unsafe fn mptfo_refcnt_update(_: *mut rte_mbuf, _: i16) -> u16 {
    unreachable!("{NO_DPDK}")
}
