import TFTPProtocol

/// What the admission step decided about a request.
enum AdmissionDecision: Equatable {
    /// Go on: open the file and start the transfer.
    case admit
    /// Answer with ERROR `code` and `message`; `detail` is for the log.
    case refuse(RefusalReason, code: TFTPErrorCode, message: String, detail: String)
    /// Do not answer (the client will retry, or should not get traffic); `detail` is for the log.
    case drop(RefusalReason, detail: String)
}
