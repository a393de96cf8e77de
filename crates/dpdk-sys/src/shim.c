/*
 * See shim.h. Compiled by build.rs with the cflags pkg-config gives for libdpdk.
 */
#include <stddef.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "shim.h"

int shim_rte_errno(void) { return rte_errno; }
void shim_rte_errno_set(int value) { rte_errno = value; }
unsigned int shim_rte_lcore_id(void) { return rte_lcore_id(); }

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}
void shim_rte_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
char *shim_rte_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, char *); }
char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }
char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint16_t shim_rte_mbuf_refcnt_read(const struct rte_mbuf *m) { return rte_mbuf_refcnt_read(m); }
void shim_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t value) { rte_mbuf_refcnt_set(m, value); }
int shim_rte_pktmbuf_is_contiguous(const struct rte_mbuf *m) { return rte_pktmbuf_is_contiguous(m); }

uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}
uint16_t shim_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

unsigned int shim_rte_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n, unsigned int *free_space)
{
	return rte_ring_enqueue_burst(r, objs, n, free_space);
}
unsigned int shim_rte_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n, unsigned int *available)
{
	return rte_ring_dequeue_burst(r, objs, n, available);
}
unsigned int shim_rte_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n, unsigned int *free_space)
{
	return rte_ring_sp_enqueue_burst(r, objs, n, free_space);
}
unsigned int shim_rte_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n, unsigned int *available)
{
	return rte_ring_sc_dequeue_burst(r, objs, n, available);
}
unsigned int shim_rte_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }
unsigned int shim_rte_ring_free_count(const struct rte_ring *r) { return rte_ring_free_count(r); }

uint32_t shim_sizeof_rte_mbuf(void) { return sizeof(struct rte_mbuf); }
uint32_t shim_offsetof_rte_mbuf_data_len(void) { return offsetof(struct rte_mbuf, data_len); }
uint32_t shim_sizeof_rte_eth_conf(void) { return sizeof(struct rte_eth_conf); }
uint32_t shim_sizeof_rte_eth_stats(void) { return sizeof(struct rte_eth_stats); }
