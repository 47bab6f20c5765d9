import TFTPProtocol
import VolleyReactor
import VolleySystem

/// Everything one run needs, validated: what to ask for, from whom, how many clients, how patiently.
struct LoadConfiguration: Sendable {
    /// The file name sent in the RRQ.
    var fileName: String
    /// The local copy every received byte is compared with.
    var localPath: String
    /// Where the RRQs go (the server's well-known port).
    var server: SocketAddress
    /// How many clients run at once.
    var clients: Int
    /// Requested block size (sent unless `sendOptions` is false).
    var blockSize: Int
    /// Requested window size (sent only when > 1).
    var windowSize: Int
    /// Whether to send `tsize 0` and check the answer.
    var requestTransferSize: Bool
    /// False: a plain RFC 1350 RRQ, no options at all.
    var sendOptions: Bool
    /// Client retransmission timeout.
    var timeoutMilliseconds: Int
    /// Re-sends after which an unanswered client gives up.
    var retries: Int
    /// The first RRQs are spread over this many milliseconds (0: all at once).
    var rampMilliseconds: Int
    /// Hard stop for the whole run.
    var deadlineSeconds: Int
    /// SO_RCVBUF for each client socket; nil keeps the kernel default.
    var receiveBufferBytes: Int?
    /// Server process to charge CPU time and peak RSS to.
    var serverPID: Int32?
    /// cgroup v2 directory whose cpu.stat charges the server's CPU time (preferred over the pid).
    var serverCgroup: String?
    /// Pause after the last client ends before the final CPU reading (lets a forking server reap children).
    var settleMilliseconds: Int

    /// The options the RRQ carries, in order.
    var requestedOptions: [TFTPOption] {
        guard sendOptions else { return [] }
        var options = [TFTPOption(name: "blksize", value: String(blockSize))]
        if windowSize > 1 { options.append(TFTPOption(name: "windowsize", value: String(windowSize))) }
        if requestTransferSize { options.append(TFTPOption(name: "tsize", value: "0")) }
        return options
    }

    /// The RRQ datagram every client sends (and re-sends until the first reply).
    var readRequest: [UInt8] {
        TFTPPacketEncoder.encode(.readRequest(TFTPRequest(filename: fileName, mode: "octet", options: requestedOptions)))
    }

    /// The SO_RCVBUF to use when none was given: room for two windows when a window is large, else the default.
    static func defaultReceiveBuffer(blockSize: Int, windowSize: Int) -> Int? {
        let window = blockSize * windowSize
        guard window > 32 * 1024 else { return nil }
        // Loopback skbs cost about the payload plus ~1 KiB each; the kernel doubles what we set.
        let wanted = windowSize * (blockSize + 1024)
        return min(max(wanted, 256 * 1024), 4 * 1024 * 1024)
    }
}
