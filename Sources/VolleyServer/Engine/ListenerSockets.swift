import Glibc
import VolleyReactor

/// Opens the sockets a server listens on: bound here, or inherited from systemd.
enum ListenerSockets {
    /// A boot storm sends thousands of RRQs at once: give them room to queue.
    static let receiveBufferBytes = 8 << 20

    /// Binds the configured host and port.
    static func bind(_ configuration: TFTPServerConfiguration) throws(TFTPError) -> [Listener] {
        let requested = try HostAddressResolver.resolve(configuration.host, port: UInt16(configuration.port))
        do {
            let descriptor = try UDPSocket.openBound(to: requested, packetInfo: true)
            try? UDPSocket.setReceiveBufferSize(descriptor, bytes: receiveBufferBytes)
            return [Listener(descriptor: descriptor, address: try UDPSocket.localAddress(of: descriptor))]
        } catch {
            throw .invalidConfiguration("cannot listen on \(requested): \(error)")
        }
    }

    /// Adopts already-bound UDP sockets: non-blocking, close-on-exec, packet info on.
    static func adopt(_ descriptors: [Int32]) throws(TFTPError) -> [Listener] {
        var listeners: [Listener] = []
        for descriptor in descriptors {
            do {
                try UDPSocket.makeNonBlockingAndCloseOnExec(descriptor)
                let family = try UDPSocket.family(of: descriptor)
                guard family == AF_INET || family == AF_INET6 else {
                    throw SystemError("socket activation: descriptor \(descriptor) is not an IPv4/IPv6 socket", errno: EAFNOSUPPORT)
                }
                try UDPSocket.enablePacketInfo(descriptor, family: family)
                try? UDPSocket.setReceiveBufferSize(descriptor, bytes: receiveBufferBytes)
                listeners.append(Listener(descriptor: descriptor, address: try UDPSocket.localAddress(of: descriptor)))
            } catch {
                throw .invalidConfiguration("cannot use inherited socket \(descriptor): \(error)")
            }
        }
        return listeners
    }
}
