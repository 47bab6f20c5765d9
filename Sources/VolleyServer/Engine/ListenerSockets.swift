import VolleySystem

/// Opens the sockets a server listens on: bound here, or inherited from systemd.
enum ListenerSockets {
    /// A boot storm sends thousands of RRQs at once: give them room to queue.
    static let receiveBufferBytes = 8 << 20

    /// Binds the configured host and port: one socket, or `count` sockets of one
    /// `SO_REUSEPORT` group (one per reactor; the kernel hashes each client's address and
    /// port to one of them, so a client's packets all reach the same reactor).
    static func bind(_ configuration: TFTPServerConfiguration, count: Int = 1) throws(TFTPError) -> [Listener] {
        let requested = try HostAddressResolver.resolve(configuration.host, port: UInt16(configuration.port))
        do {
            guard count > 1 else { return [try listener(on: requested, reusePort: false)] }
            // With port 0, another socket of this machine may take the port the probe picked in
            // the moment between the probe's close and the group's bind: pick another one then.
            let attempts = requested.port == 0 ? 20 : 1
            var attempt = 1
            while true {
                do {
                    return try group(of: count, on: requested)
                } catch  where error.errno == .addressInUse && attempt < attempts {
                    attempt += 1
                }
            }
        } catch {
            throw .cannotListen(address: requested.description, reason: Self.explain(error, port: requested.port))
        }
    }

    /// `count` listeners in one SO_REUSEPORT group on `requested`.
    private static func group(of count: Int, on requested: SocketAddress) throws(SystemError) -> [Listener] {
        // First a plain socket: it fails as usual when another server holds the port (even
        // another volley's SO_REUSEPORT group, which a group of ours would silently join),
        // and it picks the port when 0 was asked for. The group then binds that address.
        let address: SocketAddress
        do {
            let probe = try DatagramSocket.bound(to: requested)
            address = probe.localAddress
        }  // the probe closes here, before the group binds
        var listeners: [Listener] = []
        for _ in 0..<count { listeners.append(try listener(on: address, reusePort: true)) }
        return listeners
    }

    private static func listener(on address: SocketAddress, reusePort: Bool) throws(SystemError) -> Listener {
        let socket = try DatagramSocket.bound(to: address, packetInfo: true, reusePort: reusePort)
        try? UDPSocket.setReceiveBufferSize(socket.descriptor, bytes: receiveBufferBytes)
        return Listener(socket: socket)
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
    static func adopt(_ descriptors: [Descriptor]) throws(TFTPError) -> [Listener] {
        var listeners: [Listener] = []
        for descriptor in descriptors {
            do {
                // A duplicate: the inherited descriptor stays open, so that the server can be
                // stopped and started again (control plane) on the socket systemd passed.
                let owned = try OwnedDescriptor.duplicating(descriptor)
                try UDPSocket.makeNonBlockingAndCloseOnExec(descriptor)
                guard let family = try UDPSocket.family(of: descriptor) else {
                    throw SystemError(
                        "socket activation: descriptor \(descriptor) is not an IPv4/IPv6 socket", errno: .addressFamilyNotSupported)
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
