import Logging
import VolleyServer

/// The control plane's answers, implementing the operations of `openapi.yaml` through the
/// generated `APIProtocol`: the document and the server cannot drift apart.
struct ControlAPI: APIProtocol {
    let server: TFTPServer
    let metrics: TransferMetrics
    let events: EventHub
    let health: ReactorHealth
    let sessions: SessionTable
    let digests = DigestCache()
    let maximumUploadBytes: Int
    /// Whether fetches may copy `file://` URLs into the root.
    let allowFileURLs: Bool
    /// Re-reads the configuration as SIGHUP does; the error's text when it is refused.
    let reload: @Sendable () -> String?
    let logger: Logger

    /// The file store of the root in force (it follows a reload).
    var store: RootDirectoryStore { RootDirectoryStore(rootDirectory: server.configuration.rootDirectory) }
}
