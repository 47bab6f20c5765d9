/// What the server must do next for one read transfer.
public enum ReadTransferAction: Hashable, Sendable {
    /// Nothing to send; keep the armed timer as it is.
    case wait
    /// (Re)send the OACK, then arm the timer with `currentTimeoutMilliseconds`.
    case sendOptionAcknowledgement
    /// Send DATA for absolute blocks first..<first+count (block 1 = first block), then arm the timer. While the size
    /// is unknown, stop after a short (or empty) block and report it with `endOfData(atBlock:)`.
    case sendBlocks(first: UInt64, count: Int)
    /// The transfer is over: free everything.
    case finished(ReadTransferOutcome)
}

/// How a read transfer ended.
public enum ReadTransferOutcome: Hashable, Sendable {
    /// The last block was acknowledged.
    case delivered
    /// The client answered our OACK with ERROR 8 (UEFI tsize probe): a normal end.
    case sizeProbe
    /// The client sent an ERROR.
    case abortedByClient(code: TFTPErrorCode, message: String)
    /// The client stayed silent through this many retransmissions in a row.
    case timedOut(retransmissions: Int)
}
