import Dispatch
import Glibc
import Synchronization
import Testing
import VolleySystem

/// A thread-safe box for values that reactor-thread closures write and tests read.
public final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    public init(_ value: Value) { storage = Mutex(value) }
    public func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
    public var value: Value { storage.withLock { $0 } }
}

/// Loopback sockets and datagrams for tests of the system layer and the reactor.
public enum Net {
    public static func v4(_ ip: String = "127.0.0.1", port: UInt16 = 0) -> SocketAddress { SocketAddress(ip: ip, port: port)! }
    public static func v6(_ ip: String = "::1", port: UInt16 = 0) -> SocketAddress { SocketAddress(ip: ip, port: port)! }
    public static var loopbackIndex: UInt32 { if_nametoindex("lo") }

    /// A non-blocking socket bound to `address` (port 0 picks one), with its actual address.
    public static func bound(_ address: SocketAddress, packetInfo: Bool = false) throws -> (fd: Descriptor, address: SocketAddress) {
        let fd = try UDPSocket.openBound(to: address, packetInfo: packetInfo).release()
        return (fd, try UDPSocket.localAddress(of: fd))
    }

    /// Where to reach a socket bound to a wildcard address: the loopback address of its family, same port.
    public static func reachable(_ address: SocketAddress) -> SocketAddress {
        var target = address.family == .ipv4 ? v4() : v6()
        target.port = address.port
        return target
    }

    /// sendto(2) of one datagram; fails the test on error.
    @discardableResult
    public static func send(_ fd: Descriptor, _ bytes: [UInt8], to peer: SocketAddress) -> Bool {
        let sent = bytes.withUnsafeBytes { raw in
            peer.withSockaddr { address, length in sendto(fd.rawValue, raw.baseAddress, raw.count, 0, address, length) }
        }
        #expect(sent == bytes.count, "sendto(\(peer)) failed: errno \(errno)")
        return sent == bytes.count
    }

    /// Waits up to `milliseconds` for `fd` to become readable.
    public static func waitReadable(_ fd: Descriptor, milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) == 1
    }

    /// recvfrom(2) of one datagram, waiting at most `milliseconds`; nil on timeout.
    public static func receive(_ fd: Descriptor, milliseconds: Int32 = 2000) -> (bytes: [UInt8], from: SocketAddress)? {
        guard waitReadable(fd, milliseconds: milliseconds) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd.rawValue, raw.baseAddress, raw.count, 0, $0, &length)
                }
            }
        }
        guard count >= 0 else { return nil }
        let from = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) }!
        return (Array(buffer.prefix(count)), from)
    }
}

/// Runs `body` on another thread and waits at most `seconds` for it, so that a hang
/// fails the test instead of stalling the run.
public func completes(withinSeconds seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        body()
        done.signal()
    }
    return done.wait(timeout: .now() + seconds) == .success
}

/// Closes a descriptor a test owns without an ``OwnedDescriptor`` (tests may call libc directly).
public func closeDescriptor(_ fd: Descriptor) {
    _ = Glibc.close(fd.rawValue)
}
