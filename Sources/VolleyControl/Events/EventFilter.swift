import Foundation
import VolleyServer
import VolleySystem

/// The filters of `GET /v1/events`: `client=CIDR`, `mac=`, `path=GLOB`, `type=started,progress,finished,refused`.
struct EventFilter: Sendable {
    var client: AddressRange?
    /// Lower case, colon-separated, as the neighbour table gives it.
    var mac: String?
    var path: NamePattern?
    var kinds: Set<ControlEvent.Kind> = Set(ControlEvent.Kind.allCases)

    /// Parses the query's values; the one-line reason when one is not valid.
    init(client: String?, mac: String? = nil, path: String?, type: String?) throws(APIError) {
        if let client, !client.isEmpty {
            guard let range = AddressRange(client) else {
                throw APIError(status: 400, name: "BadRequest", message: "client=\(client): not an address or CIDR range")
            }
            self.client = range
        }
        if let mac, !mac.isEmpty {
            guard let parsed = MACAddress(mac) else {
                throw APIError(status: 400, name: "BadRequest", message: "mac=\(mac): not a MAC address (e.g. 52:54:00:12:34:56)")
            }
            self.mac = parsed.description
        }
        if let path, !path.isEmpty {
            do {
                self.path = try NamePattern(path)
            } catch {
                throw APIError(status: 400, name: "BadRequest", message: "path=\(path): \(error)")
            }
        }
        if let type, !type.isEmpty {
            var kinds: Set<ControlEvent.Kind> = []
            for name in type.split(separator: ",") {
                guard let kind = ControlEvent.Kind(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
                    let known = ControlEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    throw APIError(status: 400, name: "BadRequest", message: "type=\(type): each must be one of \(known)")
                }
                kinds.insert(kind)
            }
            self.kinds = kinds
        }
    }

    /// Whether the stream carries `event`.
    func admits(_ event: ControlEvent) -> Bool {
        guard kinds.contains(event.kind) else { return false }
        if let client {
            guard let address = SocketAddress(ip: event.clientAddress, port: 0), client.contains(address.addressBytes) else { return false }
        }
        if let mac, event.mac != mac { return false }
        if let path {
            guard let file = event.file, path.matches(file) else { return false }
        }
        return true
    }
}
