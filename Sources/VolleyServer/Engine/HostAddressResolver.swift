import Foundation
import VolleySystem

/// Turns the configured `host` into the address to bind.
enum HostAddressResolver {
    /// Resolves `host` (literal, name, or empty for auto-detect) with `port`.
    static func resolve(_ host: String, port: UInt16) throws(TFTPError) -> SocketAddress {
        let trimmed = host.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return autoDetect(port: port) }
        if let literal = SocketAddress(ip: trimmed, port: port) { return literal }
        if let named = HostNetwork.lookUp(trimmed, port: port) { return named }
        throw .invalidConfiguration("cannot resolve host \"\(trimmed)\"")
    }

    /// Jumpstarter's rule: the host name's address; if that is loopback or unknown, the
    /// default route's source address; else every IPv4 address.
    static func autoDetect(port: UInt16) -> SocketAddress {
        let interfaces = HostNetwork.interfaceAddresses()
        if let hostName = HostNetwork.hostName(),
            let address = HostNetwork.lookUp(hostName, port: port, family: .ipv4),
            !address.ipString.hasPrefix("127."),
            interfaces.contains(where: { $0.address.ipString == address.ipString })
        {
            return address
        }
        // The IPv4 address of the interface that carries the default route.
        if let route = HostNetwork.defaultRouteInterface(),
            var address = interfaces.first(where: { $0.name == route && $0.address.family == .ipv4 })?.address
        {
            address.port = port
            return address
        }
        return SocketAddress(ip: "0.0.0.0", port: port)!
    }
}
