/// The body of an RRQ or WRQ: file name, mode and options.
public struct TFTPRequest: Hashable, Sendable {
    /// The file name decoded as UTF-8 (invalid sequences replaced); use `filenameBytes` for exact matching.
    public var filename: String
    /// The file name exactly as sent, without its NUL.
    public var filenameBytes: [UInt8]
    /// The mode as sent, ASCII-lowercased.
    public var mode: String
    /// The mode if this server supports it; nil for "mail" and anything unknown.
    public var transferMode: TransferMode?
    /// The options in the order sent, names as sent.
    public var options: [TFTPOption]

    /// Creates a request from a file name string; the mode is lowercased.
    public init(filename: String, mode: String, options: [TFTPOption] = []) {
        self.init(filenameBytes: Array(filename.utf8), mode: mode, options: options)
    }

    /// Creates a request from raw file name bytes; the mode is lowercased.
    public init(filenameBytes: [UInt8], mode: String, options: [TFTPOption] = []) {
        self.filenameBytes = filenameBytes
        self.filename = String(decoding: filenameBytes, as: UTF8.self)
        let lowered = ASCII.lowercased(mode)
        self.mode = lowered
        self.transferMode = TransferMode(rawValue: lowered)
        self.options = options
    }
}
