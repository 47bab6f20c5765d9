/// Receives a server's events; see ``TFTPServerEvent`` for the threading rules.
public protocol TFTPServerObserver: Sendable {
    /// Called on the reactor thread for every event, in order.
    func serverEvent(_ event: TFTPServerEvent)
}
