/*
 * dpdk-sys shim: real, linkable functions for the DPDK 22.11 `static inline`
 * functions and thread-local variables the Rust side needs. Each one is a
 * one-line forward; the semantics are DPDK's own (see the named function).
 */
#ifndef DPDK_SYS_SHIM_H
#define DPDK_SYS_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/* rte_errno (a per-thread variable, RTE_PER_LCORE(_rte_errno)). */
int shim_rte_errno(void);
void shim_rte_errno_set(int value);
/* rte_lcore_id(): this thread's lcore id, or UINT32_MAX (LCORE_ID_ANY) outside EAL threads. */
unsigned int shim_rte_lcore_id(void);

/* mbufs */
struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp);
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count);
void shim_rte_pktmbuf_free(struct rte_mbuf *m);
char *shim_rte_pktmbuf_mtod(struct rte_mbuf *m);
char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m);
uint16_t shim_rte_mbuf_refcnt_read(const struct rte_mbuf *m);
void shim_rte_mbuf_refcnt_set(struct rte_mbuf *m, uint16_t value);
int shim_rte_pktmbuf_is_contiguous(const struct rte_mbuf *m);

/* ethdev fast path */
uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t shim_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

/* rings (the _burst variants; `free_space`/`available` may be NULL) */
unsigned int shim_rte_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n, unsigned int *free_space);
unsigned int shim_rte_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n, unsigned int *available);
unsigned int shim_rte_ring_sp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n, unsigned int *free_space);
unsigned int shim_rte_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n, unsigned int *available);
unsigned int shim_rte_ring_count(const struct rte_ring *r);
unsigned int shim_rte_ring_free_count(const struct rte_ring *r);

/* Layout facts the C compiler knows, checked against bindgen's view by tests. */
uint32_t shim_sizeof_rte_mbuf(void);
uint32_t shim_offsetof_rte_mbuf_data_len(void);
uint32_t shim_sizeof_rte_eth_conf(void);
uint32_t shim_sizeof_rte_eth_stats(void);

#endif
