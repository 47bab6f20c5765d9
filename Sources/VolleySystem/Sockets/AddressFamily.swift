import Glibc

/// The address families Volley speaks: a typed `AF_INET` / `AF_INET6`.
public enum AddressFamily: Sendable, Hashable {
    case ipv4
    case ipv6

    /// `AF_INET` or `AF_INET6`, for the calls that take it.
    public var rawValue: Int32 {
        switch self {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        }
    }

    /// The family of `AF_INET` or `AF_INET6`; nil for any other.
    public init?(rawValue: Int32) {
        switch rawValue {
        case AF_INET: self = .ipv4
        case AF_INET6: self = .ipv6
        default: return nil
        }
    }
}
