/*
 * mptfo-dpdk C shim: the few DPDK operations that are `static inline` in
 * the headers (the fast path) or that need DPDK's macros (offload bits,
 * rte_eth_conf), wrapped as plain functions so that Rust can call them.
 * Rust sees these declarations through bindgen, so the structs below have
 * one definition shared by both languages.
 *
 * Fast-path functions work on a whole burst per call: one call crosses the
 * language boundary per burst, not per packet.
 */
#ifndef MPTFO_DPDK_SHIM_H
#define MPTFO_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/* What Rust needs to know about one freshly received or allocated mbuf. */
struct mptfo_mbuf_info {
	uint8_t *buf_addr;  /* start of the data room (headroom included) */
	uint16_t buf_len;   /* bytes of the data room */
	uint16_t data_off;  /* start of the data, from buf_addr */
	uint16_t data_len;  /* bytes of data in this segment */
	uint16_t nb_segs;   /* segments in the chain (we only accept 1) */
	uint8_t ip_cksum;   /* MPTFO_CKSUM_* from ol_flags (rx only) */
	uint8_t l4_cksum;   /* MPTFO_CKSUM_* from ol_flags (rx only) */
	uint8_t indirect;   /* RTE_MBUF_F_INDIRECT: the data room is another
			       mbuf's (shared, never writable) */
	uint8_t external;   /* RTE_MBUF_F_EXTERNAL: the data is in memory the
			       PMD owns (zero-copy modes); not accepted */
};

#define MPTFO_CKSUM_UNKNOWN 0
#define MPTFO_CKSUM_GOOD 1
#define MPTFO_CKSUM_BAD 2

/* How to send one mbuf: the window and the offload requests, applied to the
 * mbuf right before rte_eth_tx_burst. */
struct mptfo_tx_desc {
	/* When not NULL, `mbufs[i]` is a fresh mbuf that is first attached
	 * (rte_pktmbuf_attach, indirect, refcount on `attach_to` + 1) to this
	 * direct mbuf, so a shared buffer is sent without touching the
	 * metadata that the other references may also be sending. */
	struct rte_mbuf *attach_to;
	uint16_t data_off;
	uint16_t data_len;
	uint16_t l2_len;
	uint16_t l3_len;
	uint8_t tx_ipv4;     /* RTE_MBUF_F_TX_IPV4 */
	uint8_t tx_ipv6;     /* RTE_MBUF_F_TX_IPV6 */
	uint8_t ip_cksum;    /* RTE_MBUF_F_TX_IP_CKSUM */
	uint8_t tcp_cksum;   /* RTE_MBUF_F_TX_TCP_CKSUM */
};

/* A port's identity and capabilities (from rte_eth_dev_info_get). */
struct mptfo_port_info {
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	uint16_t min_mtu;
	uint16_t max_mtu;
	uint8_t rx_ipv4_cksum;
	uint8_t rx_tcp_cksum;
	uint8_t tx_ipv4_cksum;
	uint8_t tx_tcp_cksum;
	uint8_t hash_key_size;
	uint64_t flow_type_rss_offloads;
	uint32_t if_index;
	char driver_name[64];
};

/* How to configure a port (rte_eth_dev_configure and the queue setups). */
struct mptfo_port_conf {
	uint16_t rx_queues;
	uint16_t tx_queues;
	uint16_t rx_desc;
	uint16_t tx_desc;
	uint32_t mtu;          /* 0: the PMD's default */
	uint8_t rx_ipv4_cksum; /* enable RTE_ETH_RX_OFFLOAD_IPV4_CKSUM */
	uint8_t rx_tcp_cksum;  /* enable RTE_ETH_RX_OFFLOAD_TCP_CKSUM */
	uint8_t tx_ipv4_cksum; /* enable RTE_ETH_TX_OFFLOAD_IPV4_CKSUM */
	uint8_t tx_tcp_cksum;  /* enable RTE_ETH_TX_OFFLOAD_TCP_CKSUM */
	uint8_t rss;           /* RSS over IP/TCP with a symmetric key */
};

/* Which step of mptfo_port_configure failed. */
#define MPTFO_STEP_CONFIGURE 1
#define MPTFO_STEP_ADJUST_DESC 2
#define MPTFO_STEP_RX_QUEUE 3
#define MPTFO_STEP_TX_QUEUE 4
#define MPTFO_STEP_INFO 5

/* rte_errno of the calling thread. */
int mptfo_errno(void);
/* rte_lcore_id() of the calling thread (UINT32_MAX when not an EAL thread). */
uint32_t mptfo_lcore_id(void);

/* rte_eth_dev_info_get into `out`; 0 or a negative errno. */
int mptfo_port_info(uint16_t port_id, struct mptfo_port_info *out);
/* Configures the port and sets up its queues, rx queues fed from `pool`.
 * 0, or a negative errno with the failing MPTFO_STEP_* in `*step`. */
int mptfo_port_configure(uint16_t port_id, const struct mptfo_port_conf *conf,
			 struct rte_mempool *pool, int *step);
/* 1 when the link is up, 0 when down, a negative errno on error. */
int mptfo_link_up(uint16_t port_id);

/* rte_eth_rx_burst, then one mptfo_mbuf_info per received mbuf. */
uint16_t mptfo_rx_burst(uint16_t port_id, uint16_t queue_id,
			struct rte_mbuf **pkts, struct mptfo_mbuf_info *info,
			uint16_t n);
/* Applies desc[i] to pkts[i] for every i < n, then rte_eth_tx_burst.
 * Returns how many of the first mbufs the PMD took. */
uint16_t mptfo_tx_burst(uint16_t port_id, uint16_t queue_id,
			struct rte_mbuf **pkts, const struct mptfo_tx_desc *desc,
			uint16_t n);
/* rte_pktmbuf_alloc_bulk: all `n` (returns n, info filled) or none (0). */
uint16_t mptfo_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **pkts,
			  struct mptfo_mbuf_info *info, uint16_t n);
/* rte_pktmbuf_free. */
void mptfo_free(struct rte_mbuf *m);
/* rte_mbuf_refcnt_update; returns the new count. */
uint16_t mptfo_refcnt_update(struct rte_mbuf *m, int16_t v);

#endif
