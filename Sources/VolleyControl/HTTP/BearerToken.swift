import Foundation
import VolleySystem

/// The shared secret of the control plane, read from `control_token_file`.
public struct BearerToken: Sendable {
    private let bytes: [UInt8]

    /// Reads the token from `path`; surrounding whitespace and the final newline are ignored.
    /// - Throws: ``ControlPlaneError/badTokenFile(_:)`` when it is missing, unreadable or empty.
    public init(contentsOf path: String) throws(ControlPlaneError) {
        let content: String
        do {
            content = try FileSystem.readSmallFile(path, limit: 64 << 10)
        } catch {
            throw .badTokenFile("control_token_file \(path): cannot read it (\(error))")
        }
        let text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .badTokenFile("control_token_file \(path): the file is empty") }
        bytes = Array(text.utf8)
    }

    /// Whether an `Authorization` header value carries this token, compared in constant time
    /// (for a given token length) so that timing tells an attacker nothing about the prefix.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = Array(authorization.utf8.dropFirst("Bearer ".utf8.count))
        var difference = UInt8(offered.count == bytes.count ? 0 : 1)
        for index in bytes.indices {
            difference |= bytes[index] ^ (index < offered.count ? offered[index] : 0)
        }
        return difference == 0
    }
}
