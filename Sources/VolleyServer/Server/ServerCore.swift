import Logging
import Synchronization
import TFTPProtocol
import VolleyReactor

/// A bound listening socket.
struct Listener: Sendable {
    let descriptor: Int32
    let address: SocketAddress
}

/// The serving engine: listening sockets, the transfer table and the hot path.
///
/// Created on, and confined to, the reactor thread.
final class ServerCore {
    let reactor: Reactor
    var listeners: [Listener]
    var root: ConfinedRoot
    var configuration: TFTPServerConfiguration
    let logger: Logger
    let statistics: StatisticsBox

    let receiveBatch = DatagramReceiveBatch(capacity: 64, bufferSize: 2048)
    let sendBatch = DatagramSendBatch(capacity: 256)
    let window = WindowBuffer()
    var files = SharedFileTable()
    /// Cleared for good if the kernel refuses a UDP GSO send.
    var useSegmentationOffload: Bool
    /// While set (a listener batch in single-port mode), queued sends wait for one flush.
    var deferringSends = false
    let netasciiScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    var blockSizeCaps = InterfaceBlockSizeCaps()

    var transfers: [ReadTransfer?] = []
    var freeSlots: [Int] = []
    /// Client address+port → slot, to recognise a retransmitted RRQ of a transfer in flight.
    var slotByPeer: [SocketAddress: Int] = [:]
    var activeCount = 0
    /// Totals kept on the reactor thread and published to ``statistics`` in batches.
    var totals = TFTPServerStatistics()
    var lastBusyWarning: UInt64 = 0

    init(
        reactor: Reactor, listeners: [Listener], root: ConfinedRoot,
        configuration: TFTPServerConfiguration, logger: Logger, statistics: StatisticsBox
    ) throws(SystemError) {
        self.reactor = reactor
        self.listeners = listeners
        self.root = root
        self.configuration = configuration
        self.logger = logger
        self.statistics = statistics
        self.useSegmentationOffload = configuration.segmentationOffload
        for listener in listeners {
            try reactor.register(listener.descriptor) { [unowned self] _ in
                self.drainListener(listener)
            }
        }
    }

    deinit {
        netasciiScratch.deallocate()
    }

    /// Ends every transfer and stops listening; descriptors are closed.
    func shutdown() {
        for slot in transfers.indices {
            if let transfer = transfers[slot] { finish(transfer, slot: slot, outcome: "stopped: server shutting down", delivered: false) }
        }
        stopListening()
        root.close()
        publishStatistics()
    }

    /// Closes the listening sockets: no new requests, transfers in flight go on.
    func stopListening() {
        for listener in listeners {
            reactor.deregister(listener.descriptor)
            closeDescriptor(listener.descriptor)
        }
        listeners.removeAll()
    }

    /// Applies a reloaded configuration: limits at once, a new root for new transfers.
    func apply(_ newConfiguration: TFTPServerConfiguration, root newRoot: ConfinedRoot?) {
        configuration = newConfiguration
        if let newRoot {
            root.close()  // transfers in flight hold their own file descriptors
            root = newRoot
        }
    }

    /// Runs `action` with the current totals every `intervalMilliseconds`, on this thread.
    func startHeartbeat(_ heartbeat: TFTPServerHeartbeat) {
        reactor.addTimer(afterMilliseconds: heartbeat.intervalMilliseconds) { [weak self] in
            guard let self else { return }
            self.totals.activeTransfers = self.activeCount
            heartbeat.action(self.totals)
            self.startHeartbeat(heartbeat)
        }
    }

    func publishStatistics() {
        totals.activeTransfers = activeCount
        statistics.store(totals)
    }
}

/// The thread-safe copy of the server's totals.
final class StatisticsBox: Sendable {
    private let value = Mutex(TFTPServerStatistics())
    func store(_ totals: TFTPServerStatistics) { value.withLock { $0 = totals } }
    func load() -> TFTPServerStatistics { value.withLock { $0 } }
}
