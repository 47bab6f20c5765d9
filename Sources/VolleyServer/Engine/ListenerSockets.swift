import Glibc
import VolleySystem

/// Opens the sockets a server listens on: bound here, or inherited from systemd.
enum ListenerSockets {
    /// A boot storm sends thousands of RRQs at once: give them room to queue.
    static let receiveBufferBytes = 8 << 20

    /// Binds the configured host and port.
    static func bind(_ configuration: TFTPServerConfiguration) throws(TFTPError) -> [Listener] {
        let requested = try HostAddressResolver.resolve(configuration.host, port: UInt16(configuration.port))
        do {
            let socket = try DatagramSocket.bound(to: requested, packetInfo: true)
            try? UDPSocket.setReceiveBufferSize(socket.rawDescriptor, bytes: receiveBufferBytes)
            return [Listener(socket: socket)]
        } catch {
            throw .cannotListen(address: requested.description, reason: Self.explain(error, port: requested.port))
        }
    }

    /// The errno text, with the hint that fits the usual causes.
    static func explain(_ error: SystemError, port: UInt16) -> String {
        switch error.errno {
        case .permissionDenied where port < 1024:
            "\(error.reason); ports below 1024 need root or CAP_NET_BIND_SERVICE (or let systemd bind it: volley.socket)"
        case .addressInUse:
            "\(error.reason); another TFTP server (tftpd-hpa, dnsmasq, atftpd) is probably running on this port"
        case .addressNotAvailable:
            "\(error.reason); the address is not assigned to any interface of this machine"
        default:
            error.reason
        }
    }

    /// Adopts duplicates of already-bound UDP sockets: non-blocking, close-on-exec, packet
    /// info on. The listeners own the duplicates; the inherited descriptors stay open.
    static func adopt(_ descriptors: [Int32]) throws(TFTPError) -> [Listener] {
        var listeners: [Listener] = []
        for descriptor in descriptors {
            do {
                // A duplicate: the inherited descriptor stays open, so that the server can be
                // stopped and started again (control plane) on the socket systemd passed.
                let owned = try OwnedDescriptor.duplicating(descriptor)
                try UDPSocket.makeNonBlockingAndCloseOnExec(descriptor)
                let family = try UDPSocket.family(of: descriptor)
                guard family == AF_INET || family == AF_INET6 else {
                    throw SystemError("socket activation: descriptor \(descriptor) is not an IPv4/IPv6 socket", errno: .addressFamilyNotSupported)
                }
                try UDPSocket.enablePacketInfo(descriptor, family: family)
                try? UDPSocket.setReceiveBufferSize(descriptor, bytes: receiveBufferBytes)
                listeners.append(Listener(socket: try DatagramSocket(adopting: owned)))
            } catch {
                throw .invalidConfiguration("cannot use inherited socket \(descriptor): \(error)")
            }
        }
        return listeners
    }
}
