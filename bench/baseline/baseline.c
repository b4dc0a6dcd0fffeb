/*
 * chainc-baseline: a hand-written DPDK forwarder, the performance baseline
 * that chainc's generated binaries are measured against.
 *
 *   chainc-baseline [EAL options] -- [options]
 *
 * e.g. without a NIC or hugepages:
 *
 *   chainc-baseline --no-huge -m 512 --no-pci --no-shconf -l 0 \
 *       --vdev net_pcap0,rx_pcap=udp64.pcap,infinite_rx=1 --vdev net_null0 \
 *       -- --rx net_pcap0 --tx net_null0 --seconds 3 --mode classify
 *
 * (DPDK 22.11 rejects --in-memory together with --no-huge; --no-shconf, or a
 * unique --file-prefix, keeps parallel runs apart.)
 *
 *   --rx PORT         receive port, a port id or a device name (default 0)
 *   --tx PORT         transmit port, id or name (default 1, or 0 with one port)
 *   --seconds S       run for S seconds (default 3; fractions allowed)
 *   --mode MODE       fwd       rx burst -> tx burst
 *                     classify  rx burst -> Classifier(3 classes) -> Counter
 *                               -> MacSwap -> tx burst, all in plain C
 *   --burst N         rx burst size (default 32, at most 256)
 *   --mbufs N         mbuf pool size (default: sized from the rx pcap files
 *                     found in the --vdev arguments, see below)
 *   --rxd N / --txd N descriptor ring sizes (default 1024)
 *
 * One lcore (the main one) polls: rx burst, optional per-packet work, tx
 * burst, free whatever tx did not take. At the end one JSON line goes to
 * stdout; every EAL log line goes to stderr:
 *
 *   {"mode": "fwd", "packets": N, "tx": N, "dropped": N, "bytes": N,
 *    "seconds": S, "mpps": X, "gbps": X, "classes": {...}}
 *
 * "packets" counts received packets, "mpps" is packets / seconds / 1e6,
 * "bytes" and "gbps" come from the rx port's statistics and count frame
 * bytes only (no preamble, gap or FCS).
 *
 * The classify rule (the same as the benchmark chains' Classifier):
 *   web    tcp dst port 80 or tcp dst port 443
 *   dns    udp dst port 53
 *   other  everything else (non-IP, IPv4 non-first fragments, short frames)
 * over Ethernet, optional 802.1Q/802.1ad tags, IPv4 (any IHL) or IPv6 (the
 * fixed header's next header only, as pcap-filter's "tcp"/"udp" do). Each
 * class counts packets and bytes; MacSwap swaps source and destination MAC.
 *
 * With net_pcap's infinite_rx=1 the driver loads the whole rx pcap into
 * mbufs of the pool given to the rx queue, then copies each into a fresh
 * mbuf on every rx; the pool must hold the file plus the rings. Unless
 * --mbufs is given, the pool is sized from the record counts of every
 * rx_pcap= file named in the EAL arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#define MAX_BURST 256
#define POOL_CACHE 256
#define N_CLASSES 3

enum mode { MODE_FWD, MODE_CLASSIFY };
enum klass { CLASS_WEB, CLASS_DNS, CLASS_OTHER };
static const char *const class_names[N_CLASSES] = {"web", "dns", "other"};

struct options {
    const char *rx, *tx;
    double seconds;
    enum mode mode;
    unsigned burst;
    unsigned mbufs;
    unsigned rxd, txd;
};

struct class_stats {
    uint64_t packets, bytes;
};

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [EAL options] -- [--rx PORT] [--tx PORT] [--seconds S]\n"
            "          [--mode fwd|classify] [--burst N] [--mbufs N] [--rxd N] [--txd N]\n",
            prog);
}

static int parse_uint(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s || v > UINT32_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_app_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return -1;
        if (!v) {
            fprintf(stderr, "option %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--rx"))
            o->rx = v;
        else if (!strcmp(a, "--tx"))
            o->tx = v;
        else if (!strcmp(a, "--seconds")) {
            char *end;
            o->seconds = strtod(v, &end);
            if (*end || o->seconds <= 0) {
                fprintf(stderr, "bad --seconds %s\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "fwd"))
                o->mode = MODE_FWD;
            else if (!strcmp(v, "classify"))
                o->mode = MODE_CLASSIFY;
            else {
                fprintf(stderr, "bad --mode %s (fwd or classify)\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--burst")) {
            if (parse_uint(v, &o->burst) || o->burst == 0 || o->burst > MAX_BURST) {
                fprintf(stderr, "bad --burst %s (1..%d)\n", v, MAX_BURST);
                return -1;
            }
        } else if (!strcmp(a, "--mbufs")) {
            if (parse_uint(v, &o->mbufs) || o->mbufs < 64) {
                fprintf(stderr, "bad --mbufs %s\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--rxd")) {
            if (parse_uint(v, &o->rxd) || o->rxd == 0) {
                fprintf(stderr, "bad --rxd %s\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--txd")) {
            if (parse_uint(v, &o->txd) || o->txd == 0) {
                fprintf(stderr, "bad --txd %s\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return -1;
        }
    }
    return 0;
}

/* ---- mbuf pool sizing from the rx pcap files ---------------------------- */

/* Number of records of a classic pcap file; -1 if it cannot be read as one
 * (pcapng and others: the caller then falls back to a size estimate). */
static long pcap_record_count(const char *path, long *file_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint32_t hdr[6];
    long count = -1;
    if (fread(hdr, sizeof(hdr), 1, f) == 1) {
        bool swap;
        if (hdr[0] == 0xa1b2c3d4 || hdr[0] == 0xa1b23c4d)
            swap = false;
        else if (hdr[0] == 0xd4c3b2a1 || hdr[0] == 0x4d3cb2a1)
            swap = true;
        else
            goto out;
        count = 0;
        uint32_t rec[4];
        while (fread(rec, sizeof(rec), 1, f) == 1) {
            uint32_t incl = swap ? __builtin_bswap32(rec[2]) : rec[2];
            if (fseek(f, (long)incl, SEEK_CUR) != 0)
                break;
            count++;
        }
    }
out:
    if (file_size) {
        fseek(f, 0, SEEK_END);
        *file_size = ftell(f);
    }
    fclose(f);
    return count;
}

/* Sum of the packets of every "rx_pcap=FILE" in the EAL arguments. */
static unsigned long rx_pcap_packets(int argc, char **argv)
{
    unsigned long total = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        const char *p = argv[i];
        while ((p = strstr(p, "rx_pcap=")) != NULL) {
            p += strlen("rx_pcap=");
            size_t n = strcspn(p, ",");
            char path[4096];
            if (n >= sizeof(path))
                break;
            memcpy(path, p, n);
            path[n] = '\0';
            long size = 0;
            long c = pcap_record_count(path, &size);
            if (c < 0 && size > 0)
                c = size / 60;  /* not classic pcap: assume minimum-size frames */
            if (c > 0)
                total += (unsigned long)c;
            p += n;
        }
    }
    return total;
}

/* ---- ports -------------------------------------------------------------- */

static int resolve_port(const char *spec, uint16_t *port)
{
    unsigned v;
    if (parse_uint(spec, &v) == 0) {
        if (v >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)v))
            return -1;
        *port = (uint16_t)v;
        return 0;
    }
    return rte_eth_dev_get_port_by_name(spec, port) == 0 ? 0 : -1;
}

static int setup_port(uint16_t port, struct rte_mempool *pool, unsigned rxd, unsigned txd)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    char name[RTE_ETH_NAME_MAX_LEN];
    int rc;

    memset(&conf, 0, sizeof(conf));
    rte_eth_dev_get_name_by_port(port, name);
    if ((rc = rte_eth_dev_info_get(port, &info)) != 0) {
        fprintf(stderr, "port %u (%s): info: %s\n", port, name, rte_strerror(-rc));
        return rc;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    if ((rc = rte_eth_dev_configure(port, 1, 1, &conf)) != 0) {
        fprintf(stderr, "port %u (%s): configure: %s\n", port, name, rte_strerror(-rc));
        return rc;
    }
    uint16_t nrx = (uint16_t)rxd, ntx = (uint16_t)txd;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    int socket = rte_eth_dev_socket_id(port);
    if (socket < 0)
        socket = (int)rte_socket_id();
    if ((rc = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)socket, NULL, pool)) != 0) {
        fprintf(stderr, "port %u (%s): rx queue: %s (a larger --mbufs may help)\n",
                port, name, rte_strerror(-rc));
        return rc;
    }
    if ((rc = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)socket, NULL)) != 0) {
        fprintf(stderr, "port %u (%s): tx queue: %s\n", port, name, rte_strerror(-rc));
        return rc;
    }
    if ((rc = rte_eth_dev_start(port)) != 0) {
        fprintf(stderr, "port %u (%s): start: %s\n", port, name, rte_strerror(-rc));
        return rc;
    }
    rte_eth_promiscuous_enable(port);  /* not supported by every vdev: ignore */
    return 0;
}

/* ---- the classify work: Classifier -> Counter -> MacSwap ---------------- */

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline enum klass classify(const uint8_t *p, uint32_t len)
{
    if (len < RTE_ETHER_HDR_LEN)
        return CLASS_OTHER;
    uint32_t off = 12;
    uint16_t et = rd16(p + off);
    off += 2;
    while ((et == RTE_ETHER_TYPE_VLAN || et == RTE_ETHER_TYPE_QINQ) && len >= off + 4) {
        et = rd16(p + off + 2);
        off += 4;
    }
    uint8_t proto;
    if (et == RTE_ETHER_TYPE_IPV4) {
        if (len < off + 20 || (p[off] >> 4) != 4)
            return CLASS_OTHER;
        uint32_t ihl = (uint32_t)(p[off] & 0x0f) * 4;
        if (ihl < 20 || (rd16(p + off + 6) & 0x1fff) != 0)  /* bad IHL, non-first fragment */
            return CLASS_OTHER;
        proto = p[off + 9];
        off += ihl;
    } else if (et == RTE_ETHER_TYPE_IPV6) {
        if (len < off + 40 || (p[off] >> 4) != 6)
            return CLASS_OTHER;
        proto = p[off + 6];
        off += 40;
    } else {
        return CLASS_OTHER;
    }
    if (len < off + 4)
        return CLASS_OTHER;
    uint16_t dport = rd16(p + off + 2);
    if (proto == IPPROTO_TCP && (dport == 80 || dport == 443))
        return CLASS_WEB;
    if (proto == IPPROTO_UDP && dport == 53)
        return CLASS_DNS;
    return CLASS_OTHER;
}

static inline void mac_swap(uint8_t *p, uint32_t len)
{
    if (len < 2 * RTE_ETHER_ADDR_LEN)
        return;
    struct rte_ether_addr tmp;
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)p;
    rte_ether_addr_copy(&eh->dst_addr, &tmp);
    rte_ether_addr_copy(&eh->src_addr, &eh->dst_addr);
    rte_ether_addr_copy(&tmp, &eh->src_addr);
}

static inline void classify_burst(struct rte_mbuf **bufs, uint16_t n, struct class_stats *cs)
{
    for (uint16_t i = 0; i < n && i < 4; i++)
        rte_prefetch0(rte_pktmbuf_mtod(bufs[i], void *));
    for (uint16_t i = 0; i < n; i++) {
        if (i + 4 < n)
            rte_prefetch0(rte_pktmbuf_mtod(bufs[i + 4], void *));
        struct rte_mbuf *m = bufs[i];
        uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
        uint32_t len = rte_pktmbuf_data_len(m);
        enum klass k = classify(p, len);
        cs[k].packets++;
        cs[k].bytes += rte_pktmbuf_pkt_len(m);
        mac_swap(p, len);
    }
}

/* ---- main loop ------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    /* EAL logs to stderr, so stdout carries the JSON result only. */
    rte_openlog_stream(stderr);

    unsigned long pcap_pkts = rx_pcap_packets(argc, argv);

    int eal_args = rte_eal_init(argc, argv);
    if (eal_args < 0) {
        fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    argc -= eal_args;
    argv += eal_args;

    struct options o = {
        .rx = NULL, .tx = NULL, .seconds = 3.0, .mode = MODE_FWD,
        .burst = 32, .mbufs = 0, .rxd = 1024, .txd = 1024,
    };
    if (parse_app_args(argc, argv, &o) != 0) {
        usage(argv[0]);
        rte_eal_cleanup();
        return 2;
    }

    uint16_t nports = rte_eth_dev_count_avail();
    if (nports == 0) {
        fprintf(stderr, "no ethernet ports (give --vdev or a NIC)\n");
        rte_eal_cleanup();
        return 1;
    }
    uint16_t rx = 0, tx = nports > 1 ? 1 : 0;
    if (o.rx && resolve_port(o.rx, &rx) != 0) {
        fprintf(stderr, "unknown rx port %s\n", o.rx);
        rte_eal_cleanup();
        return 1;
    }
    if (o.tx && resolve_port(o.tx, &tx) != 0) {
        fprintf(stderr, "unknown tx port %s\n", o.tx);
        rte_eal_cleanup();
        return 1;
    }

    unsigned n_mbufs = o.mbufs;
    if (n_mbufs == 0) {
        /* the preloaded file + both rings + a burst in flight + per-lcore caches */
        unsigned long want = pcap_pkts + 2ul * (o.rxd + o.txd) + MAX_BURST +
                             (unsigned long)POOL_CACHE * (rte_lcore_count() + 1) + 1024;
        unsigned long n = 8191;
        while (n < want)
            n = n * 2 + 1;  /* 2^k - 1 is the most memory-efficient ring size */
        n_mbufs = (unsigned)n;
    }
    struct rte_mempool *pool = rte_pktmbuf_pool_create(
        "baseline_pool", n_mbufs, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (!pool) {
        fprintf(stderr, "mbuf pool of %u mbufs (about %u MB): %s%s\n", n_mbufs,
                (unsigned)(((uint64_t)n_mbufs * (RTE_MBUF_DEFAULT_BUF_SIZE + 192)) >> 20),
                rte_strerror(rte_errno),
                rte_errno == ENOMEM ? " (give the EAL more memory, e.g. -m 512 with --no-huge)" : "");
        rte_eal_cleanup();
        return 1;
    }

    if (setup_port(rx, pool, o.rxd, o.txd) != 0 ||
        (tx != rx && setup_port(tx, pool, o.rxd, o.txd) != 0)) {
        rte_eal_cleanup();
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct class_stats cs[N_CLASSES];
    memset(cs, 0, sizeof(cs));
    struct rte_mbuf *bufs[MAX_BURST];
    uint64_t rx_pkts = 0, tx_pkts = 0, dropped = 0, bytes = 0;
    const uint16_t burst = (uint16_t)o.burst;
    const enum mode mode = o.mode;

    uint64_t hz = rte_get_tsc_hz();
    struct rte_eth_stats st0, st1;
    memset(&st0, 0, sizeof(st0));
    memset(&st1, 0, sizeof(st1));
    rte_eth_stats_get(rx, &st0);
    double t0 = now_seconds();
    uint64_t deadline = rte_rdtsc() + (uint64_t)(o.seconds * (double)hz);

    while (!stop_flag) {
        uint16_t n = rte_eth_rx_burst(rx, 0, bufs, burst);
        if (unlikely(rte_rdtsc() >= deadline)) {
            if (n)
                rte_pktmbuf_free_bulk(bufs, n);
            break;
        }
        if (n == 0)
            continue;
        rx_pkts += n;
        if (mode == MODE_CLASSIFY)
            classify_burst(bufs, n, cs);
        uint16_t sent = rte_eth_tx_burst(tx, 0, bufs, n);
        tx_pkts += sent;
        if (unlikely(sent < n)) {
            rte_pktmbuf_free_bulk(&bufs[sent], n - sent);
            dropped += n - sent;
        }
    }
    double secs = now_seconds() - t0;
    rte_eth_stats_get(rx, &st1);
    bytes = st1.ibytes - st0.ibytes;  /* the driver's count: no per-packet work here */

    printf("{\"mode\": \"%s\", \"packets\": %" PRIu64 ", \"tx\": %" PRIu64
           ", \"dropped\": %" PRIu64 ", \"bytes\": %" PRIu64
           ", \"seconds\": %.6f, \"mpps\": %.4f, \"gbps\": %.4f, \"burst\": %u, \"mbufs\": %u",
           mode == MODE_FWD ? "fwd" : "classify", rx_pkts, tx_pkts, dropped, bytes, secs,
           secs > 0 ? (double)rx_pkts / secs / 1e6 : 0.0,
           secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0.0, o.burst, n_mbufs);
    if (mode == MODE_CLASSIFY) {
        printf(", \"classes\": {");
        for (int k = 0; k < N_CLASSES; k++)
            printf("%s\"%s\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
                   k ? ", " : "", class_names[k], cs[k].packets, cs[k].bytes);
        printf("}");
    }
    printf("}\n");
    fflush(stdout);

    rte_eth_dev_stop(rx);
    if (tx != rx)
        rte_eth_dev_stop(tx);
    rte_eth_dev_close(rx);
    if (tx != rx)
        rte_eth_dev_close(tx);
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return 0;
}
