import AsyncHTTPClient

extension HTTPClient {
    /// The client the server fetches URLs with (uploads from a URL, the origin). A host that
    /// refuses the connection fails the fetch at once: the shared client would retry the
    /// connection until the request's deadline. One that stops sending fails after a minute.
    static let failFast: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.timeout.read = .seconds(60)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
