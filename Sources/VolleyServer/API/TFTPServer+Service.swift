import ServiceLifecycle

/// A `TFTPServer` runs in a swift-service-lifecycle `ServiceGroup`.
extension TFTPServer: Service {
    /// Starts the server (unless it already runs), serves until graceful shutdown, then
    /// drains transfers in flight for up to ``TFTPServerConfiguration/drainTimeoutMilliseconds``
    /// and stops. Cancellation stops at once.
    /// - Throws: what ``start()`` throws.
    public func run() async throws {
        if !isRunning { try start() }
        try? await gracefulShutdown()
        await drainAndStop()
    }
}
