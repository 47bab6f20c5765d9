// The one C header of Volley: epoll, eventfd/timerfd, batched datagram I/O (mmsg and
// io_uring), packet-info control messages, UDP GSO, preadv, openat2, sd-daemon and
// libcrypto's SHA-256.
//
// _GNU_SOURCE is deliberately NOT defined (it breaks every module that also
// imports Glibc, see shared/swift-notes.md). The few GNU-only declarations we
// need are restated below under volley_* names, bound to the real symbols.
#ifndef VOLLEY_CEPOLL_SHIM_H
#define VOLLEY_CEPOLL_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <linux/openat2.h>
#include <systemd/sd-daemon.h>
// SHA-256 for the file store (EVP digests of the system's libcrypto).
#include <openssl/evp.h>
// The kernel's io_uring definitions, not liburing's copy of them: swift-system's CSystem
// module includes <linux/io_uring.h>, and two different definitions of one struct break
// every module that sees both. liburing's copy has the same include guard, so it is skipped.
#include <linux/io_uring.h>
// Last: liburing.h defines _GNU_SOURCE when it is not defined, which must not reach the
// glibc headers above (features.h has been read by now, so it changes nothing there).
#include <liburing.h>

// MARK: - Constants that import as enums (or not at all) in Swift

static const uint32_t VOLLEY_EPOLLIN = EPOLLIN;
static const uint32_t VOLLEY_EPOLLOUT = EPOLLOUT;
static const uint32_t VOLLEY_EPOLLERR = EPOLLERR;
static const uint32_t VOLLEY_EPOLLHUP = EPOLLHUP;
static const uint32_t VOLLEY_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
static const int VOLLEY_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int VOLLEY_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int VOLLEY_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int VOLLEY_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

static const int VOLLEY_EFD_NONBLOCK = EFD_NONBLOCK;
static const int VOLLEY_EFD_CLOEXEC = EFD_CLOEXEC;
static const int VOLLEY_TFD_NONBLOCK = TFD_NONBLOCK;
static const int VOLLEY_TFD_CLOEXEC = TFD_CLOEXEC;

static const int VOLLEY_SOCK_DGRAM = SOCK_DGRAM;
static const int VOLLEY_SOCK_NONBLOCK = SOCK_NONBLOCK;
static const int VOLLEY_SOCK_CLOEXEC = SOCK_CLOEXEC;
static const int VOLLEY_MSG_DONTWAIT = MSG_DONTWAIT;
static const int VOLLEY_MSG_TRUNC = MSG_TRUNC;
static const int VOLLEY_MSG_CTRUNC = MSG_CTRUNC;
static const int VOLLEY_IPPROTO_IP = IPPROTO_IP;
static const int VOLLEY_IPPROTO_IPV6 = IPPROTO_IPV6;
static const int VOLLEY_IPPROTO_UDP = IPPROTO_UDP;
static const int VOLLEY_SO_REUSEPORT = SO_REUSEPORT;

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h; glibc may not have it */
#endif
static const int VOLLEY_SOL_UDP = 17;
static const int VOLLEY_UDP_SEGMENT = UDP_SEGMENT;

static const uint64_t VOLLEY_RESOLVE_BENEATH = RESOLVE_BENEATH;
static const uint64_t VOLLEY_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
static const uint64_t VOLLEY_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
static const uint64_t VOLLEY_RESOLVE_NO_XDEV = RESOLVE_NO_XDEV;

// MARK: - GNU-only declarations, restated without _GNU_SOURCE

/// Same layout as glibc's `struct mmsghdr`.
struct volley_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

extern int volley_recvmmsg(int fd, struct volley_mmsghdr *messages, unsigned int count,
                           int flags, struct timespec *timeout) __asm__("recvmmsg");
extern int volley_sendmmsg(int fd, struct volley_mmsghdr *messages, unsigned int count,
                           int flags) __asm__("sendmmsg");

/// Same layout as glibc's `struct in6_pktinfo`.
struct volley_in6_pktinfo {
    struct in6_addr ipi6_addr;
    unsigned int ipi6_ifindex;
};

// MARK: - Control-message macros

static inline size_t volley_cmsg_space(size_t length) { return CMSG_SPACE(length); }
static inline size_t volley_cmsg_len(size_t length) { return CMSG_LEN(length); }
static inline struct cmsghdr *volley_cmsg_firsthdr(struct msghdr *msg) { return CMSG_FIRSTHDR(msg); }
static inline struct cmsghdr *volley_cmsg_nxthdr(struct msghdr *msg, struct cmsghdr *cmsg) {
    return CMSG_NXTHDR(msg, cmsg);
}
static inline unsigned char *volley_cmsg_data(struct cmsghdr *cmsg) { return CMSG_DATA(cmsg); }

// MARK: - Variadic calls Swift cannot import

static inline int volley_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return openat(dirfd, path, flags, mode);
}

/// openat2(2) through syscall(2); returns the descriptor or -1 with errno set.
static inline int volley_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode,
                                 uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// MARK: - File mappings

/// A read-only shared mapping of `length` bytes of `fd`, or NULL (errno set); MAP_FAILED
/// does not import into Swift as a constant.
static inline void *volley_map_file_read_only(int fd, size_t length) {
    void *address = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
    return address == MAP_FAILED ? NULL : address;
}

static inline int volley_fcntl_getfl(int fd) { return fcntl(fd, F_GETFL); }
static inline int volley_fcntl_setfl(int fd, int flags) { return fcntl(fd, F_SETFL, flags); }
static inline int volley_fcntl_getfd(int fd) { return fcntl(fd, F_GETFD); }
static inline int volley_fcntl_setfd(int fd, int flags) { return fcntl(fd, F_SETFD, flags); }

/// The MTU of an interface by index, or -1 with errno set.
static inline int volley_interface_mtu(unsigned int ifindex) {
    char name[IF_NAMESIZE];
    if (if_indextoname(ifindex, name) == NULL) return -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IF_NAMESIZE - 1);
    int result = ioctl(fd, SIOCGIFMTU, &request);
    int saved = errno;
    close(fd);
    errno = saved;
    return result < 0 ? -1 : request.ifr_mtu;
}

/// Names the calling thread (shown by top -H and in crash reports).
static inline void volley_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

/// The CPUs this process may run on (its affinity mask, as taskset and cpusets set it);
/// 0 when the kernel does not say. The raw call: CPU_COUNT needs _GNU_SOURCE.
static inline int volley_affinity_cpu_count(void) {
    unsigned long mask[64]; // 4096 CPUs
    long copied = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
    if (copied <= 0) return 0;
    int count = 0;
    for (long i = 0; i < copied / (long)sizeof(unsigned long); i++) count += __builtin_popcountl(mask[i]);
    return count;
}

// MARK: - io_uring (liburing)
//
// One ring per reactor batches the sends and receives of many sockets into one
// io_uring_enter. Every operation carries MSG_DONTWAIT: a full socket buffer or an empty
// queue completes at once with -EAGAIN instead of parking the request in the kernel, so
// every request submitted has completed when the submission returns, and no buffer is
// ever read or written by the kernel after that.

/// Sets up `ring` with `entries` submission slots: single issuer with deferred task work
/// where the kernel has them (6.1), plain otherwise. Returns 0 or -errno (EPERM when
/// kernel.io_uring_disabled or a seccomp filter forbids it, ENOSYS without io_uring).
static inline int volley_ring_init(struct io_uring *ring, unsigned entries) {
    int result = io_uring_queue_init(entries, ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (result == -EINVAL) result = io_uring_queue_init(entries, ring, 0);
    return result;
}
static inline void volley_ring_exit(struct io_uring *ring) { io_uring_queue_exit(ring); }

/// Queues a non-blocking sendmsg (`receive` 0) or recvmsg (`receive` 1) on `fd`; -EBUSY when
/// the submission queue is full.
static inline int volley_ring_queue_message(struct io_uring *ring, int receive, int fd, struct msghdr *message, uint64_t tag) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) return -EBUSY;
    if (receive) io_uring_prep_recvmsg(sqe, fd, message, MSG_DONTWAIT);
    else io_uring_prep_sendmsg(sqe, fd, message, MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

/// Submits everything queued and waits for `count` completions in one io_uring_enter.
/// Returns what io_uring_submit_and_wait returns (submitted count, or -errno).
static inline int volley_ring_submit_and_wait(struct io_uring *ring, unsigned count) {
    return io_uring_submit_and_wait(ring, count);
}

/// For tests only: submits at most `limit` of the queued operations, as a kernel short of
/// memory for requests does, and waits for their completions. Publishes the queue first,
/// as io_uring_submit does, so the rest stay in the kernel's queue untaken. Returns what
/// io_uring_enter returns (operations taken, or -errno).
static inline int volley_ring_submit_at_most(struct io_uring *ring, unsigned limit) {
    unsigned tail = ring->sq.sqe_tail;
    if (ring->sq.sqe_head != tail) {
        ring->sq.sqe_head = tail;
        io_uring_smp_store_release(ring->sq.ktail, tail);
    }
    return io_uring_enter(ring->ring_fd, limit, limit, IORING_ENTER_GETEVENTS, NULL);
}

/// Queued operations the kernel has not taken (after a submission that could not take all).
static inline unsigned volley_ring_not_taken(const struct io_uring *ring) { return io_uring_sq_ready(ring); }

/// Takes one completion if one is waiting (`wait` 0) or waits for one (`wait` 1): 1 with
/// its tag and result, 0 when none is waiting, or -errno from the wait.
static inline int volley_ring_next_completion(struct io_uring *ring, int wait, uint64_t *tag, int32_t *result) {
    struct io_uring_cqe *cqe = NULL;
    int status = wait ? io_uring_wait_cqe(ring, &cqe) : io_uring_peek_cqe(ring, &cqe);
    if (status == -EAGAIN && !wait) return 0;
    if (status < 0) return status;
    *tag = io_uring_cqe_get_data64(cqe);
    *result = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return 1;
}

// MARK: - Small accessors

static inline void volley_epoll_event_set(struct epoll_event *event, uint32_t events, uint64_t data) {
    event->events = events;
    event->data.u64 = data;
}
static inline uint64_t volley_epoll_event_data(const struct epoll_event *event) { return event->data.u64; }

static inline int volley_in6_is_v4mapped(const struct in6_addr *address) {
    return IN6_IS_ADDR_V4MAPPED(address);
}

#endif
