import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import VolleyServer
import VolleySystem

/// Serves the boot files of a ``TFTPServer`` over HTTP/1.1 (and 1.0): `GET` and `HEAD`,
/// ranges, conditional requests, keep-alive. It runs on NIO's own threads, never on a TFTP
/// reactor's, and resolves every name as the TFTP service does (``BootFiles``).
///
/// As a swift-service-lifecycle `Service`, ``run()`` binds its addresses, serves until
/// graceful shutdown, then closes its listeners (responses in flight finish).
public final class HTTPFileServer: Service, Sendable {
    private let addresses: [HostAndPort]
    private let files: BootFiles
    private let headerTimeoutMilliseconds: Int
    private let logger: Logger

    /// - Parameters:
    ///   - addresses: where to listen (`http_listen`).
    ///   - server: whose files, rules and origin are served.
    ///   - headerTimeoutMilliseconds: how long a connection may take to send a request's head.
    public init(addresses: [HostAndPort], server: TFTPServer, headerTimeoutMilliseconds: Int, logger: Logger) {
        self.addresses = addresses
        self.files = BootFiles(server: server)
        self.headerTimeoutMilliseconds = headerTimeoutMilliseconds
        self.logger = logger
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let files = files
        let logger = logger
        let timeout = TimeAmount.milliseconds(Int64(headerTimeoutMilliseconds))
        var channels: [Channel] = []
        do {
            for address in addresses {
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try channel.pipeline.syncOperations.addHandler(
                                FileRequestHandler(files: files, headerTimeout: timeout, logger: logger))
                        }
                    }
                    .bind(host: address.host, port: address.port).get()
                channels.append(channel)
                // Scripts read the port from the end of this line: keep it last.
                logger.info("serving HTTP on \(address.host) port \(channel.localAddress?.port ?? address.port)")
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw HTTPFileServerError(message: "cannot listen for HTTP: \(error)")
        }
        let listening = channels
        await withGracefulShutdownHandler {
            for channel in listening { try? await channel.closeFuture.get() }
        } onGracefulShutdown: {
            for channel in listening { channel.close(promise: nil) }
        }
    }
}

/// Why the HTTP file server could not start.
public struct HTTPFileServerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
