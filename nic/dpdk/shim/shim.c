/*
 * mptfo-dpdk C shim; see shim.h. Hand-written: every function here either
 * wraps a `static inline` DPDK function (which has no symbol to link
 * against) or translates between DPDK's macros and plain fields.
 */
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "shim.h"

int mptfo_errno(void)
{
	return rte_errno;
}

uint32_t mptfo_lcore_id(void)
{
	return rte_lcore_id();
}

int mptfo_port_info(uint16_t port_id, struct mptfo_port_info *out)
{
	struct rte_eth_dev_info info;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0)
		return rc;
	out->max_rx_queues = info.max_rx_queues;
	out->max_tx_queues = info.max_tx_queues;
	out->min_mtu = info.min_mtu;
	out->max_mtu = info.max_mtu;
	out->rx_ipv4_cksum = !!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM);
	out->rx_tcp_cksum = !!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	out->tx_ipv4_cksum = !!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
	out->tx_tcp_cksum = !!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
	out->hash_key_size = info.hash_key_size;
	out->flow_type_rss_offloads = info.flow_type_rss_offloads;
	out->if_index = info.if_index;
	if (info.driver_name != NULL) {
		strncpy(out->driver_name, info.driver_name,
			sizeof(out->driver_name) - 1);
	}
	return 0;
}

int mptfo_port_configure(uint16_t port_id, const struct mptfo_port_conf *conf,
			 struct rte_mempool *pool, int *step)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf eth;
	/* The symmetric Toeplitz key (0x6d5a repeated): both directions of a
	 * flow hash to the same queue. 52 bytes covers every key size. */
	static uint8_t sym_key[52];
	uint16_t nb_rxd = conf->rx_desc;
	uint16_t nb_txd = conf->tx_desc;
	uint16_t q;
	int socket;
	int rc;

	*step = MPTFO_STEP_INFO;
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0)
		return rc;

	memset(&eth, 0, sizeof(eth));
	eth.rxmode.mtu = conf->mtu;
	if (conf->rx_ipv4_cksum)
		eth.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (conf->rx_tcp_cksum)
		eth.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	if (conf->tx_ipv4_cksum)
		eth.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (conf->tx_tcp_cksum)
		eth.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (conf->rss) {
		size_t i;

		for (i = 0; i < sizeof(sym_key); i += 2) {
			sym_key[i] = 0x6d;
			sym_key[i + 1] = 0x5a;
		}
		eth.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		eth.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
						  (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
		if (info.hash_key_size > 0 &&
		    info.hash_key_size <= sizeof(sym_key)) {
			eth.rx_adv_conf.rss_conf.rss_key = sym_key;
			eth.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
		}
	}

	*step = MPTFO_STEP_CONFIGURE;
	rc = rte_eth_dev_configure(port_id, conf->rx_queues, conf->tx_queues,
				   &eth);
	if (rc != 0)
		return rc;

	*step = MPTFO_STEP_ADJUST_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
	if (rc != 0)
		return rc;

	socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();

	*step = MPTFO_STEP_RX_QUEUE;
	for (q = 0; q < conf->rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd,
					    (unsigned int)socket, NULL, pool);
		if (rc != 0)
			return rc;
	}
	*step = MPTFO_STEP_TX_QUEUE;
	for (q = 0; q < conf->tx_queues; q++) {
		rc = rte_eth_tx_queue_setup(port_id, q, nb_txd,
					    (unsigned int)socket, NULL);
		if (rc != 0)
			return rc;
	}
	*step = 0;
	return 0;
}

int mptfo_link_up(uint16_t port_id)
{
	struct rte_eth_link link;
	int rc;

	memset(&link, 0, sizeof(link));
	rc = rte_eth_link_get_nowait(port_id, &link);
	if (rc != 0)
		return rc;
	return link.link_status == RTE_ETH_LINK_UP;
}

static inline uint8_t cksum_status(uint64_t flags, uint64_t mask,
				   uint64_t good, uint64_t bad)
{
	uint64_t v = flags & mask;

	/* NONE (good|bad): "not correct in the packet data, but the integrity
	 * is verified" - the data is intact, so the stack need not check. */
	if (v == good || v == (good | bad))
		return MPTFO_CKSUM_GOOD;
	if (v == bad)
		return MPTFO_CKSUM_BAD;
	return MPTFO_CKSUM_UNKNOWN;
}

static inline void fill_info(const struct rte_mbuf *m,
			     struct mptfo_mbuf_info *info)
{
	info->buf_addr = (uint8_t *)m->buf_addr;
	info->buf_len = m->buf_len;
	info->data_off = m->data_off;
	info->data_len = m->data_len;
	info->nb_segs = m->nb_segs;
	info->indirect = !!(m->ol_flags & RTE_MBUF_F_INDIRECT);
	info->external = !!(m->ol_flags & RTE_MBUF_F_EXTERNAL);
	info->ip_cksum = cksum_status(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK,
				      RTE_MBUF_F_RX_IP_CKSUM_GOOD,
				      RTE_MBUF_F_RX_IP_CKSUM_BAD);
	info->l4_cksum = cksum_status(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK,
				      RTE_MBUF_F_RX_L4_CKSUM_GOOD,
				      RTE_MBUF_F_RX_L4_CKSUM_BAD);
}

uint16_t mptfo_rx_burst(uint16_t port_id, uint16_t queue_id,
			struct rte_mbuf **pkts, struct mptfo_mbuf_info *info,
			uint16_t n)
{
	uint16_t got = rte_eth_rx_burst(port_id, queue_id, pkts, n);
	uint16_t i;

	for (i = 0; i < got; i++)
		fill_info(pkts[i], &info[i]);
	return got;
}

uint16_t mptfo_tx_burst(uint16_t port_id, uint16_t queue_id,
			struct rte_mbuf **pkts, const struct mptfo_tx_desc *desc,
			uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct mptfo_tx_desc *d = &desc[i];
		uint64_t ol = 0;

		if (d->attach_to != NULL)
			rte_pktmbuf_attach(m, d->attach_to);
		m->data_off = d->data_off;
		m->data_len = d->data_len;
		m->pkt_len = d->data_len;
		if (d->tx_ipv4)
			ol |= RTE_MBUF_F_TX_IPV4;
		if (d->tx_ipv6)
			ol |= RTE_MBUF_F_TX_IPV6;
		if (d->ip_cksum)
			ol |= RTE_MBUF_F_TX_IP_CKSUM;
		if (d->tcp_cksum)
			ol |= RTE_MBUF_F_TX_TCP_CKSUM;
		/* Receive results of an earlier life of the mbuf go; whether it
		 * is indirect or external stays. */
		m->ol_flags = (m->ol_flags &
			       (RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL)) | ol;
		m->tx_offload = 0;
		m->l2_len = d->l2_len;
		m->l3_len = d->l3_len;
	}
	return rte_eth_tx_burst(port_id, queue_id, pkts, n);
}

uint16_t mptfo_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **pkts,
			  struct mptfo_mbuf_info *info, uint16_t n)
{
	uint16_t i;

	if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0)
		return 0;
	for (i = 0; i < n; i++)
		fill_info(pkts[i], &info[i]);
	return n;
}

void mptfo_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

uint16_t mptfo_refcnt_update(struct rte_mbuf *m, int16_t v)
{
	return rte_mbuf_refcnt_update(m, v);
}
