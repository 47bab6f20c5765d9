import VolleySystem

/// A socket the server takes requests on (bound here or passed by systemd).
///
/// A class so that single-port transfers can hold on to the socket they run over: it
/// stays open until the server stops listening *and* the last such transfer ended.
final class Listener: Sendable {
    let socket: DatagramSocket

    init(socket: DatagramSocket) {
        self.socket = socket
    }

    /// The address it is bound to.
    var address: SocketAddress { socket.localAddress }
}
