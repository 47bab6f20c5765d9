import Foundation
import Logging
import Synchronization
import VolleyReactor
import VolleySystem
import VolleyServer

/// Log lines a server wrote during a test.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    /// A logger at `level` that records every line here.
    func logger(level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: "volley-test") { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = level
        return logger
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// Everything logged so far.
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.append("\(event.level) \(event.message)")
    }
}

/// Runs `body` with a started server on 127.0.0.1 (port 0) serving `root`; stops it afterwards.
func withServer<R>(
    root: String, host: String = "127.0.0.1", logs: LogCapture = LogCapture(),
    configure: (inout TFTPServerConfiguration) -> Void = { _ in },
    _ body: (TFTPServer) async throws -> R
) async throws -> R {
    var configuration = TFTPServerConfiguration(rootDirectory: root, host: host, port: 0)
    configure(&configuration)
    let server = TFTPServer(configuration: configuration, logger: logs.logger())
    try server.start()
    defer { try? server.stop() }
    return try await body(server)
}

extension TFTPServer {
    /// The listening address as a socket address.
    var address: SocketAddress { SocketAddress(ip: host, port: UInt16(port))! }

    /// Waits up to `timeout` seconds until `activeTransfers` is 0; returns the last statistics.
    func waitUntilIdle(timeout: Double) async throws -> TFTPServerStatistics {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let statistics = statistics
            if statistics.activeTransfers == 0 { return statistics }
            try await Task.sleep(for: .milliseconds(10))
        }
        return statistics
    }
}

/// The server's transport modes the end-to-end tests run in.
enum ServerMode: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The default: a socket per transfer, windows sent with UDP GSO where the kernel has it.
    case perTransferSockets
    /// Every transfer over the listening socket, told apart by client address and port.
    case singlePort
    /// A socket per transfer, windows sent as one `sendmmsg` of separate datagrams.
    case withoutSegmentationOffload
    /// A socket per transfer, with epoll and a system call per socket instead of io_uring.
    case withoutIOUring

    var description: String { rawValue }

    /// Sets the configuration for this mode.
    func apply(to configuration: inout TFTPServerConfiguration) {
        configuration.singlePort = self == .singlePort
        configuration.segmentationOffload = self != .withoutSegmentationOffload
        configuration.ioUring = self != .withoutIOUring
    }
}
