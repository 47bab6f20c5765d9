internal import CEpoll
import Glibc

/// The parts of libsystemd's sd-daemon API a service needs: readiness and status
/// notifications, the watchdog, and socket activation.
public enum Systemd {
    /// Sends a notification such as `"READY=1"` or `"STATUS=…"` to the service manager.
    /// Returns false when not running under systemd (no `NOTIFY_SOCKET`) or on failure.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// The watchdog period in microseconds when systemd expects `WATCHDOG=1` pings, else nil.
    public static func watchdogMicroseconds() -> UInt64? {
        var microseconds: UInt64 = 0
        return sd_watchdog_enabled(0, &microseconds) > 0 && microseconds > 0 ? microseconds : nil
    }

    /// A socket passed by socket activation.
    public struct ListenSocket: Sendable, Hashable {
        /// The descriptor (3, 4, …), owned by whoever adopts it.
        public var descriptor: Descriptor
        /// Its `FileDescriptorName=` (or "unknown").
        public var name: String
        /// Whether it is an IPv4/IPv6 datagram socket.
        public var isInetDatagram: Bool
    }

    /// The sockets systemd passed (empty without socket activation). Clears the
    /// `LISTEN_*` variables so child processes do not inherit them.
    public static func listenSockets() -> [ListenSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer {
            if let names {
                for i in 0..<Int(count) { free(names[i]) }
                free(names)
            }
        }
        return (0..<Int(count)).map { i in
            let descriptor = SD_LISTEN_FDS_START + Int32(i)
            let name = names?[i].map { String(cString: $0) } ?? "unknown"
            let inet = sd_is_socket_inet(descriptor, Int32(AF_UNSPEC), VOLLEY_SOCK_DGRAM, -1, 0) > 0
            return ListenSocket(descriptor: Descriptor(rawValue: descriptor), name: name, isInetDatagram: inet)
        }
    }

    /// Monotonic clock in microseconds, for `MONOTONIC_USEC=` alongside `RELOADING=1`.
    public static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}
