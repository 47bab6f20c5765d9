/// Decides whether a datagram on a transfer's socket belongs to the transfer (RFC 1350 TIDs).
public enum TransferIdentity {
    /// The reply to a datagram from a stranger: ERROR 5 "Unknown transfer ID".
    public static let unknownTransferIDReply: [UInt8] = TFTPPacketEncoder.error(.unknownTransferID, "Unknown transfer ID")

    /// True if `sender` is the peer the transfer was started with (same address and port).
    public static func isExpected<Address: Equatable>(_ sender: Address, expected: Address) -> Bool {
        sender == expected
    }
}
