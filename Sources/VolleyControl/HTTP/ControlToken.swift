import Synchronization

/// The bearer token the control plane checks now, read from `control_token_file`.
///
/// `volley serve` re-reads the file on every reload (SIGHUP, `POST /v1/reload`), so a token
/// can be rotated without a restart. A reload that cannot read the new token keeps the old one.
public final class ControlToken: Sendable {
    private let current: Mutex<BearerToken?>
    /// The address of the control plane this token guards.
    public let address: ControlAddress

    /// Reads the token file at `path` (empty: no token) for a control plane on `address`.
    /// - Throws: ``ControlPlaneError/badTokenFile(_:)`` for a missing, unreadable or empty file,
    ///   ``ControlPlaneError/tokenRequired(_:)`` for no token on an address other machines reach.
    public init(file path: String, address: ControlAddress) throws(ControlPlaneError) {
        self.address = address
        current = Mutex(try Self.read(path, address: address))
    }

    /// Reads a token file as a reload would, without using it yet (see ``use(_:)``).
    /// - Throws: as ``init(file:address:)``; the token in use stays.
    public func read(file path: String) throws(ControlPlaneError) -> BearerToken? {
        try Self.read(path, address: address)
    }

    /// Checks requests against `token` from now on (nil: no token; ``read(file:)`` allows that
    /// only on a local address).
    public func use(_ token: BearerToken?) {
        current.withLock { $0 = token }
    }

    /// Whether a request with this `Authorization` header value may pass: always when there is no token.
    func accepts(authorization: String?) -> Bool {
        current.withLock { token in token?.accepts(authorization: authorization) ?? true }
    }

    private static func read(_ path: String, address: ControlAddress) throws(ControlPlaneError) -> BearerToken? {
        guard !path.isEmpty else {
            guard address.isLocal else {
                throw .tokenRequired(
                    "control_listen \(address) is reachable from other machines: set control_token_file (or listen on loopback or a unix socket)"
                )
            }
            return nil
        }
        return try BearerToken(contentsOf: path)
    }
}
