/*
 * floor: the cheapest TFTP read server we know how to write for this loopback, used only as a
 * cost reference by benchmarks/quick and benchmarks/compare (see README.md beside it).
 * Not a server to deploy: no logging, no limits per client, no netascii, no writes.
 *
 *   cc -O2 -Wall -Wextra -Werror -o floor floor.c
 *   floor --root DIR [--port 69] [--host 127.0.0.1] [--unconnected]
 *
 * One thread, one epoll set, level-triggered. A listening UDP socket takes RRQs; each transfer
 * gets its own UDP socket, bound to --host and connected to the client (so a send needs no
 * address and the route stays cached; --unconnected uses sendto/recvfrom instead, to measure
 * the difference). Per ACK: lockstep, one preadv of the block and one send; windows, one
 * preadv of the whole window into one buffer (the DATA headers sit in place between the
 * blocks) and one sendmsg carrying it as a GSO train (UDP_SEGMENT, the short last block as
 * the train's shorter last segment); when the window is more than 64 KiB, one sendmmsg of
 * several trains. Retransmission: a per-transfer deadline, checked by a scan of the live
 * transfers every 100 ms (the epoll_wait timeout); 5 re-sends, then the transfer is dropped.
 * Nothing is allocated per block: every window is read into one shared buffer (re-read from
 * the file on a re-send).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum {
    OP_RRQ = 1, OP_WRQ = 2, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6,
    MAX_FLOWS = 32768,
    WINDOW_MAX = 64,         /* windowsize is answered with at most this */
    BLKSIZE_MAX = 65464,     /* RFC 2348 */
    GSO_MAX_SEGMENTS = 64,   /* UDP_MAX_SEGMENTS on older kernels */
    SEND_MAX = 65507,        /* the largest UDP payload of one send (IPv4) */
    RETRIES = 5,             /* re-sends before a transfer is dropped */
    DEFAULT_TIMEOUT_MS = 1000,
    SCAN_MS = 100,           /* how often the deadlines are checked */
    EVENTS = 256,
};

struct flow {
    int sock, file;          /* sock -1: free */
    uint32_t blksize, window, timeout_ms, slot; /* slot: index in live[] */
    int32_t next_free;
    uint8_t oack_pending;    /* OACK sent, ACK 0 not yet seen */
    uint8_t tries;
    uint16_t oack_len;
    uint64_t size, blocks;   /* blocks 1..blocks; the last is shorter than blksize (maybe empty) */
    uint64_t base, next;     /* base: first block not acknowledged; next: one past the last sent */
    int64_t deadline_ms;
    socklen_t peer_len;
    struct sockaddr_storage peer;
    char oack[128];
};

static struct flow *flows;
static uint32_t *live, nlive;
static int32_t free_head = -1;
static int epfd, listen_fd, root_fd, connected = 1;
static struct sockaddr_storage host_addr;
static socklen_t host_len;
static int64_t now_ms;
static unsigned char *wbuf;  /* one window: WINDOW_MAX × (4 + BLKSIZE_MAX) */
static unsigned char rbuf[2048];
static struct iovec read_iov[WINDOW_MAX], send_iov[WINDOW_MAX];
static struct mmsghdr msgs[WINDOW_MAX];
static union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} ctl[WINDOW_MAX];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int64_t clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_error(int fd, const struct sockaddr_storage *to, socklen_t to_len, int code, const char *msg) {
    char pkt[128];
    size_t len = strlen(msg);
    pkt[0] = 0;
    pkt[1] = OP_ERROR;
    pkt[2] = 0;
    pkt[3] = (char)code;
    memcpy(pkt + 4, msg, len + 1);
    sendto(fd, pkt, 4 + len + 1, 0, (const struct sockaddr *)to, to_len);
}

static ssize_t flow_send(struct flow *f, const void *buf, size_t len) {
    if (connected)
        return send(f->sock, buf, len, 0);
    return sendto(f->sock, buf, len, 0, (const struct sockaddr *)&f->peer, f->peer_len);
}

static void close_flow(struct flow *f) {
    uint32_t idx = (uint32_t)(f - flows);
    close(f->sock);  /* also leaves the epoll set */
    close(f->file);
    f->sock = -1;
    live[f->slot] = live[--nlive];
    flows[live[f->slot]].slot = f->slot;
    f->next_free = free_head;
    free_head = (int32_t)idx;
}

/* Reads blocks base … base+count-1 into wbuf (headers in place) and sends them.
 * Returns 0, or -1 when the transfer had to be dropped. */
static int send_window(struct flow *f) {
    uint64_t count = f->blocks - f->base + 1;
    if (count > f->window)
        count = f->window;
    size_t seg = 4 + (size_t)f->blksize;
    uint64_t offset = (f->base - 1) * f->blksize;
    uint64_t want = count * f->blksize;
    if (want > f->size - offset)
        want = f->size - offset;
    size_t last = (size_t)(want - (count - 1) * f->blksize);
    for (uint64_t i = 0; i < count; i++) {
        unsigned char *p = wbuf + i * seg;
        uint16_t block = (uint16_t)(f->base + i);  /* rolls over 65535 → 0 */
        p[0] = 0;
        p[1] = OP_DATA;
        p[2] = (unsigned char)(block >> 8);
        p[3] = (unsigned char)block;
        read_iov[i].iov_base = p + 4;
        read_iov[i].iov_len = i + 1 < count ? f->blksize : last;
    }
    if (want > 0) {
        ssize_t got = preadv(f->file, read_iov, (int)count, (off_t)offset);
        if (got != (ssize_t)want) {
            send_error(f->sock, &f->peer, f->peer_len, 0, "read error");
            close_flow(f);
            return -1;
        }
    }
    size_t total = (count - 1) * seg + 4 + last;
    f->next = f->base + count;
    f->deadline_ms = now_ms + f->timeout_ms;
    ssize_t rc;
    if (count == 1) {
        rc = flow_send(f, wbuf, total);
    } else {
        size_t per = SEND_MAX / seg;  /* segments one train may carry */
        if (per > GSO_MAX_SEGMENTS)
            per = GSO_MAX_SEGMENTS;
        unsigned n = 0;
        size_t off = 0;
        for (uint64_t left = count; left > 0; n++) {
            uint64_t k = left < per ? left : per;
            size_t len = left == k ? total - off : k * seg;
            struct msghdr *h = &msgs[n].msg_hdr;
            send_iov[n].iov_base = wbuf + off;
            send_iov[n].iov_len = len;
            h->msg_iov = &send_iov[n];
            h->msg_iovlen = 1;
            h->msg_name = connected ? NULL : &f->peer;
            h->msg_namelen = connected ? 0 : f->peer_len;
            h->msg_flags = 0;
            if (k > 1) {
                struct cmsghdr *c = &ctl[n].align;
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t gso = (uint16_t)seg;
                memcpy(CMSG_DATA(c), &gso, sizeof gso);
                h->msg_control = ctl[n].buf;
                h->msg_controllen = sizeof ctl[n].buf;
            } else {
                h->msg_control = NULL;
                h->msg_controllen = 0;
            }
            off += len;
            left -= k;
        }
        rc = n == 1 ? sendmsg(f->sock, &msgs[0].msg_hdr, 0) : sendmmsg(f->sock, msgs, n, 0);
    }
    /* A full socket buffer is a lost window (the deadline re-sends it); a refused port means
     * the client has gone. */
    if (rc < 0 && errno == ECONNREFUSED) {
        close_flow(f);
        return -1;
    }
    return 0;
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

/* One datagram on a transfer's socket (level-triggered: one read per wake-up, no EAGAIN read). */
static void handle_flow(struct flow *f) {
    ssize_t n;
    if (connected) {
        n = recv(f->sock, rbuf, sizeof rbuf, MSG_DONTWAIT);
    } else {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        n = recvfrom(f->sock, rbuf, sizeof rbuf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n >= 0 && !same_peer(&from, &f->peer))
            return;  /* another port: not this transfer's client */
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            close_flow(f);  /* ECONNREFUSED: the client's port is closed */
        return;
    }
    if (n < 4)
        return;
    unsigned op = (unsigned)rbuf[0] << 8 | rbuf[1];
    if (op == OP_ERROR) {
        close_flow(f);
        return;
    }
    if (op != OP_ACK)
        return;
    uint16_t n16 = (uint16_t)(rbuf[2] << 8 | rbuf[3]);
    if (f->oack_pending) {
        if (n16 != 0)
            return;
        f->oack_pending = 0;
        f->base = 1;
        f->tries = 0;
        send_window(f);
        return;
    }
    /* The acknowledged block as a 64-bit number: the one at or below the last sent that
     * matches the 16 bits. Older than the window's start, or the ACK just before it
     * (a duplicate): ignored. */
    uint64_t last_sent = f->next - 1;
    uint16_t back = (uint16_t)((uint16_t)last_sent - n16);
    if (back >= last_sent - f->base + 1)
        return;
    uint64_t acked = last_sent - back;
    if (acked == f->blocks) {
        close_flow(f);  /* the last ACK: done */
        return;
    }
    f->base = acked + 1;  /* a whole window, or up to a gap the client saw */
    f->tries = 0;
    send_window(f);
}

/* Parses a decimal option value; -1 when it is not one. */
static long parse_value(const char *s) {
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000000L)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static void handle_request(size_t n, const struct sockaddr_storage *from, socklen_t from_len) {
    unsigned op = (unsigned)rbuf[0] << 8 | rbuf[1];
    if (op == OP_ERROR)
        return;
    if (op != OP_RRQ) {
        send_error(listen_fd, from, from_len, 4, "read requests only");
        return;
    }
    rbuf[n] = 0;  /* rbuf is one byte longer than any read */
    const char *end = (const char *)rbuf + n;
    const char *name = (const char *)rbuf + 2;
    const char *mode = name + strlen(name) + 1;
    if (mode >= end || mode + strlen(mode) >= end) {
        send_error(listen_fd, from, from_len, 4, "malformed request");
        return;
    }
    if (strcasecmp(mode, "octet") != 0) {
        send_error(listen_fd, from, from_len, 4, "octet mode only");
        return;
    }
    long blksize = 0, window = 0, timeout = 0;
    int tsize = 0;
    for (const char *p = mode + strlen(mode) + 1; p < end;) {
        const char *key = p, *val = p + strlen(p) + 1;
        if (val >= end)
            break;
        p = val + strlen(val) + 1;
        long v = parse_value(val);
        if (!strcasecmp(key, "blksize") && v >= 8)
            blksize = v > BLKSIZE_MAX ? BLKSIZE_MAX : v;
        else if (!strcasecmp(key, "windowsize") && v >= 1 && v <= 65535)
            window = v > WINDOW_MAX ? WINDOW_MAX : v;
        else if (!strcasecmp(key, "tsize") && v >= 0)
            tsize = 1;
        else if (!strcasecmp(key, "timeout") && v >= 1 && v <= 255)
            timeout = v;
    }
    if (!*name || name[0] == '/' || strstr(name, "..")) {
        send_error(listen_fd, from, from_len, *name ? 2 : 1, *name ? "access violation" : "file not found");
        return;
    }
    if (free_head < 0) {
        send_error(listen_fd, from, from_len, 0, "too many transfers");
        return;
    }
    /* RESOLVE_BENEATH: no path (symbolic links included) leads outside the root. O_NONBLOCK:
     * a FIFO does not block the open. */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int file = (int)syscall(SYS_openat2, root_fd, name, &how, sizeof how);
    if (file < 0) {
        int e = errno;
        send_error(listen_fd, from, from_len, e == ENOENT ? 1 : e == ENOSYS ? 0 : 2,
                   e == ENOENT ? "file not found" : e == ENOSYS ? "openat2 unavailable" : "access violation");
        return;
    }
    struct stat st;
    if (fstat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(file);
        send_error(listen_fd, from, from_len, 1, "not a regular file");
        return;
    }
    int sock = socket(host_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&host_addr, host_len) < 0 ||
        (connected && connect(sock, (const struct sockaddr *)from, from_len) < 0)) {
        if (sock >= 0)
            close(sock);
        close(file);
        send_error(listen_fd, from, from_len, 0, "no socket");
        return;
    }
    uint32_t idx = (uint32_t)free_head;
    struct flow *f = &flows[idx];
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx + 1};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sock, &ev) < 0)
        die("epoll_ctl");
    free_head = f->next_free;
    f->sock = sock;
    f->file = file;
    f->blksize = blksize ? (uint32_t)blksize : 512;
    f->window = window ? (uint32_t)window : 1;
    f->timeout_ms = timeout ? (uint32_t)timeout * 1000 : DEFAULT_TIMEOUT_MS;
    f->size = (uint64_t)st.st_size;
    f->blocks = f->size / f->blksize + 1;
    f->base = f->next = 1;
    f->tries = 0;
    memcpy(&f->peer, from, from_len);
    f->peer_len = from_len;
    f->slot = nlive;
    live[nlive++] = idx;
    int len = 2;
    f->oack[0] = 0;
    f->oack[1] = OP_OACK;
    if (blksize)
        len += sprintf(f->oack + len, "blksize%c%ld", 0, blksize) + 1;
    if (window)
        len += sprintf(f->oack + len, "windowsize%c%ld", 0, window) + 1;
    if (tsize)
        len += sprintf(f->oack + len, "tsize%c%llu", 0, (unsigned long long)f->size) + 1;
    if (timeout)
        len += sprintf(f->oack + len, "timeout%c%ld", 0, timeout) + 1;
    f->oack_len = (uint16_t)len;
    f->oack_pending = len > 2;
    if (f->oack_pending) {
        f->deadline_ms = now_ms + f->timeout_ms;
        if (flow_send(f, f->oack, f->oack_len) < 0 && errno == ECONNREFUSED)
            close_flow(f);
    } else {
        send_window(f);
    }
}

static void handle_requests(void) {
    for (int i = 0; i < 64; i++) {  /* a burst of requests per wake-up */
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(listen_fd, rbuf, sizeof rbuf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            return;
        if (n >= 4)
            handle_request((size_t)n, &from, from_len);
    }
}

/* Re-sends what timed out; drops transfers after RETRIES re-sends. */
static void scan_deadlines(void) {
    for (uint32_t i = nlive; i-- > 0;) {
        struct flow *f = &flows[live[i]];
        if (now_ms < f->deadline_ms)
            continue;
        if (f->tries >= RETRIES) {
            close_flow(f);
            continue;
        }
        f->tries++;
        if (f->oack_pending) {
            f->deadline_ms = now_ms + f->timeout_ms;
            flow_send(f, f->oack, f->oack_len);
        } else {
            send_window(f);
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: floor --root DIR [--port PORT (69)] [--host ADDR (127.0.0.1)] [--unconnected]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *root = NULL, *host = "127.0.0.1", *port = "69";
    static const struct option opts[] = {
        {"root", required_argument, 0, 'r'}, {"port", required_argument, 0, 'p'},
        {"host", required_argument, 0, 'h'}, {"unconnected", no_argument, 0, 'u'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 'r')
            root = optarg;
        else if (c == 'p')
            port = optarg;
        else if (c == 'h')
            host = optarg;
        else if (c == 'u')
            connected = 0;
        else
            usage();
    }
    if (!root || optind != argc)
        usage();
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        die(root);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "floor: %s port %s: %s\n", host, port, gai_strerror(rc));
        return 2;
    }
    listen_fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("listening socket");
    memcpy(&host_addr, ai->ai_addr, ai->ai_addrlen);
    host_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    ((struct sockaddr_in *)&host_addr)->sin_port = 0;  /* same offset in sockaddr_in6 */

    flows = calloc(MAX_FLOWS, sizeof *flows);
    live = calloc(MAX_FLOWS, sizeof *live);
    wbuf = aligned_alloc(4096, ((size_t)WINDOW_MAX * (4 + BLKSIZE_MAX) + 4095) & ~(size_t)4095);
    if (!flows || !live || !wbuf)
        die("memory");
    for (int i = MAX_FLOWS - 1; i >= 0; i--) {
        flows[i].sock = -1;
        flows[i].next_free = free_head;
        free_head = i;
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        die("epoll");
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    getsockname(listen_fd, (struct sockaddr *)&bound, &bound_len);
    fprintf(stderr, "floor: serving %s on %s port %u (%s transfer sockets)\n", root, host,
            ntohs(((struct sockaddr_in *)&bound)->sin_port), connected ? "connected" : "unconnected");

    struct epoll_event events[EVENTS];
    int64_t next_scan = 0;
    for (;;) {
        int wait = -1;
        if (nlive) {
            int64_t left = next_scan - now_ms;
            wait = left < 0 ? 0 : (int)left;
        }
        int n = epoll_wait(epfd, events, EVENTS, wait);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        int was_idle = nlive == 0;
        now_ms = clock_ms();
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == 0)
                handle_requests();
            else if (flows[events[i].data.u64 - 1].sock >= 0)
                handle_flow(&flows[events[i].data.u64 - 1]);
        }
        if (was_idle && nlive)
            next_scan = now_ms + SCAN_MS;
        else if (nlive && now_ms >= next_scan) {
            scan_deadlines();
            next_scan = now_ms + SCAN_MS;
        }
    }
}
