import VolleySystem

/// The transfers whose own socket the reactor found readable in this turn of the loop,
/// received together: one io_uring submission takes a datagram from each socket, where
/// epoll alone would cost a `recvmsg` per transfer.
///
/// The reactor's readiness callbacks only note the transfer; ``receiveAll(in:)`` runs from
/// the reactor's after-events hook, before the timers (an ACK that arrived must count
/// before its retransmission is due) and before the outbox flush, so the answers of all
/// of them go out in the flush's one submission. Confined to the reactor thread.
final class ReadyTransfers {
    private let batch: DatagramReceiveBatch
    private let ring: DatagramRing
    private var ready: [ReadTransfer] = []
    /// The sockets of one submission, reused from turn to turn.
    private var descriptors: [Descriptor] = []
    private var receiving: [ReadTransfer] = []

    init(ring: DatagramRing, batch: DatagramReceiveBatch) {
        precondition(batch.capacity <= ring.capacity, "a ring smaller than the batch")
        self.ring = ring
        self.batch = batch
    }

    /// Notes that `transfer`'s socket is readable.
    func append(_ transfer: ReadTransfer) {
        ready.append(transfer)
    }

    /// Receives one datagram for every transfer noted since the last call and hands each
    /// to its transfer. Epoll is level-triggered: a socket with more waiting is reported
    /// again on the next turn.
    func receiveAll(in environment: TransferEnvironment) {
        guard !ready.isEmpty else { return }
        var start = 0
        while start < ready.count {
            let end = min(start + batch.capacity, ready.count)
            for transfer in ready[start..<end] where !transfer.finished {
                // A finished transfer (its timer gave up, a new request replaced it) is
                // skipped: its socket no longer belongs to it.
                receiving.append(transfer)
                descriptors.append(transfer.socket.descriptor)
            }
            if receiving.count == 1 || ring.isBroken {
                // One socket: a plain recvmsg costs no more than a submission.
                for transfer in receiving { transfer.drainSocket(into: batch, in: environment) }
            } else if !receiving.isEmpty {
                let failure = descriptors.withUnsafeBufferPointer { batch.receiveOne(fromEach: $0, through: ring) }
                if let failure { environment.logger.debug("receive on a transfer socket failed: \(failure)") }
                for (index, transfer) in receiving.enumerated() {
                    transfer.handleDatagram(index, of: batch, in: environment)
                }
            }
            receiving.removeAll(keepingCapacity: true)
            descriptors.removeAll(keepingCapacity: true)
            start = end
        }
        ready.removeAll(keepingCapacity: true)
    }
}

@available(*, unavailable)
extension ReadyTransfers: Sendable {}
