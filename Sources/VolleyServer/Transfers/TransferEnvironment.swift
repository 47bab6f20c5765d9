import Logging
import VolleyReactor

/// What the transfers of one reactor share: the loop, the outbox, scratch space, the
/// event observers, and the way back to the table when a transfer ends.
final class TransferEnvironment {
    let reactor: Reactor
    let outbox: DatagramOutbox
    let logger: Logger
    /// Scratch space for netascii conversion.
    let netasciiScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private let observers: [any TFTPServerObserver]
    /// Called once when a transfer has ended, to take it out of the table.
    var transferEnded: (ReadTransfer) -> Void = { _ in }

    init(reactor: Reactor, outbox: DatagramOutbox, observers: [any TFTPServerObserver], logger: Logger) {
        self.reactor = reactor
        self.outbox = outbox
        self.observers = observers
        self.logger = logger
    }

    deinit {
        netasciiScratch.deallocate()
    }

    /// Hands `event` to every observer.
    func emit(_ event: TFTPServerEvent) {
        for observer in observers { observer.serverEvent(event) }
    }
}

@available(*, unavailable)
extension TransferEnvironment: Sendable {}
