/// The code carried by an ERROR packet; open-ended because peers send values outside RFC 1350's list.
public struct TFTPErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as it appears on the wire.
    public var rawValue: UInt16

    /// Wraps any 16-bit code, known or not.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// 0: not defined, see the message.
    public static let notDefined = TFTPErrorCode(rawValue: 0)
    /// 1: file not found.
    public static let fileNotFound = TFTPErrorCode(rawValue: 1)
    /// 2: access violation.
    public static let accessViolation = TFTPErrorCode(rawValue: 2)
    /// 3: disk full or allocation exceeded.
    public static let diskFull = TFTPErrorCode(rawValue: 3)
    /// 4: illegal TFTP operation.
    public static let illegalOperation = TFTPErrorCode(rawValue: 4)
    /// 5: unknown transfer ID.
    public static let unknownTransferID = TFTPErrorCode(rawValue: 5)
    /// 6: file already exists.
    public static let fileAlreadyExists = TFTPErrorCode(rawValue: 6)
    /// 7: no such user.
    public static let noSuchUser = TFTPErrorCode(rawValue: 7)
    /// 8: option negotiation failed (RFC 2347); also how UEFI ends a tsize probe.
    public static let optionNegotiationFailed = TFTPErrorCode(rawValue: 8)

    /// A short name with the number, e.g. `"file not found (1)"`.
    public var description: String {
        let name: String
        switch rawValue {
        case 0: name = "not defined"
        case 1: name = "file not found"
        case 2: name = "access violation"
        case 3: name = "disk full"
        case 4: name = "illegal operation"
        case 5: name = "unknown transfer ID"
        case 6: name = "file already exists"
        case 7: name = "no such user"
        case 8: name = "option negotiation failed"
        default: name = "error"
        }
        return "\(name) (\(rawValue))"
    }
}
