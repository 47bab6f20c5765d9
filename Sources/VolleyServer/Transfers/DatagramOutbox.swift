import Logging
import TFTPProtocol
import VolleySystem

/// Everything a reactor's transfers send: windows are built in one shared arena and queued,
/// and the queue goes out with `sendmmsg` (full blocks as UDP GSO trains) once per turn of
/// the loop, from the reactor's before-wait hook, or earlier when it fills.
///
/// In single-port mode every transfer shares the listener's socket, so one flush carries
/// the windows of many clients; with a socket per transfer a flush is one io_uring
/// submission for all of them where the kernel allows it, else one call per socket.
final class DatagramOutbox {
    private let batch: DatagramSendBatch
    /// The arena the queued windows live in until the flush.
    let window = WindowBuffer()
    private let logger: Logger
    /// Whether windows go out as GSO trains: the setting, unless the kernel refused one.
    private(set) var segmentationOffload: Bool
    private var kernelRefusedSegmentationOffload = false
    /// Mappings that queued datagrams point into: kept alive until the flush, whatever
    /// happens to their transfers meanwhile.
    private var mappingsInFlight: [FileMapping] = []
    /// The sockets the batch's queued messages go out on (see ``keepUntilFlushed(_:)``).
    private var socketsInFlight: [DatagramSocket] = []
    /// The ring the batch (and the transfers' receives) go through, until it breaks.
    private var ring: DatagramRing?

    /// With `ring`, the messages of many sockets go out in one submission.
    init(segmentationOffload: Bool, ring: DatagramRing? = nil, logger: Logger) {
        self.segmentationOffload = segmentationOffload
        self.batch = DatagramSendBatch(capacity: 256, ring: ring)
        self.ring = ring
        self.logger = logger
    }

    /// Applies a reloaded `segmentation_offload`; a kernel that refused GSO stays refused.
    func setSegmentationOffload(_ on: Bool) {
        segmentationOffload = on && !kernelRefusedSegmentationOffload
    }

    /// `count` slots of `blockSize` in the arena, flushing first when they do not fit.
    func reserveWindow(blockSize: Int, count: Int) -> UnsafeMutableRawPointer {
        if !window.fits(blockSize: blockSize, count: count) { flush() }
        return window.take(blockSize: blockSize, count: count)
    }

    /// Queues a built window: runs of full blocks become one GSO message each (the slots are
    /// contiguous, so a run is one buffer); otherwise one message per block.
    func queueWindow(
        _ slots: UnsafeMutableRawPointer, count: Int, blockSize: Int,
        on socket: DatagramSocket, to peer: SocketAddress, from source: PacketInfo?
    ) {
        keepUntilFlushed(socket)
        let stride = WindowBuffer.stride(blockSize: blockSize)
        let perSend = blocksPerSend(stride: stride)
        var i = 0
        while i < count {
            var run = 1
            if perSend > 1 {
                // Only the last segment of a GSO send may be short: that is only ever the file's last block.
                while run < perSend, i + run < count, window.lengths[i + run - 1] == blockSize { run += 1 }
            }
            let bytes = (run - 1) * stride + TFTPPacketEncoder.dataHeaderSize + window.lengths[i + run - 1]
            if let early = batch.enqueue(
                descriptor: socket.descriptor, to: peer, from: source,
                bytes: slots + i * stride, count: bytes, segmentSize: run > 1 ? stride : nil)
            {
                note(early)
            }
            i += run
        }
    }

    /// Queues a window of full blocks sent straight from the file's mapping: datagram i
    /// gathers its 4-byte header from `headers` (consecutive, see ``reserveHeaders(count:)``)
    /// and its payload from the mapping at `offset + i * blockSize`, so the kernel copies the
    /// file's bytes once and nothing reads them first. Runs become GSO messages as in
    /// ``queueWindow(_:count:blockSize:on:to:from:)``. The mapping is kept until the flush.
    func queueMappedWindow(
        headers: UnsafeMutableRawPointer, mapping: FileMapping, offset: Int, count: Int, blockSize: Int,
        on socket: DatagramSocket, to peer: SocketAddress, from source: PacketInfo?
    ) {
        assert(offset >= 0 && offset + count * blockSize <= mapping.length, "a window outside the mapping")
        keepUntilFlushed(socket)
        mappingsInFlight.append(mapping)
        let header = TFTPPacketEncoder.dataHeaderSize
        let stride = WindowBuffer.stride(blockSize: blockSize)
        let perSend = blocksPerSend(stride: stride)
        let payloads = mapping.base + offset
        var i = 0
        while i < count {
            let first = i
            let run = min(perSend, count - i)
            if let early = batch.enqueue(
                descriptor: socket.descriptor, to: peer, from: source,
                headers: headers + first * header, headerSize: header,
                payloads: payloads + first * blockSize, payloadSize: blockSize, count: run,
                segmentSize: run > 1 ? stride : nil, fromFileMapping: true)
            {
                note(early)
            }
            i += run
        }
    }

    /// How many blocks of `stride` bytes one message may carry: a GSO train's worth, or 1.
    private func blocksPerSend(stride: Int) -> Int {
        segmentationOffload ? min(DatagramSendBatch.maximumSegmentsPerSend, DatagramSendBatch.maximumSendBytes / stride) : 1
    }

    /// `count` consecutive DATA headers in the arena, for ``queueMappedWindow``.
    func reserveHeaders(count: Int) -> UnsafeMutableRawPointer {
        reserveWindow(blockSize: 0, count: count)
    }

    /// Sends one small datagram (an OACK or an ERROR) now, after everything queued.
    func sendNow(_ packet: [UInt8], on socket: Descriptor, to peer: SocketAddress, from source: PacketInfo? = nil) {
        packet.withUnsafeBytes { bytes in
            note(batch.sendOne(descriptor: socket, bytes: bytes, to: peer, from: source))
        }
        forgetSent()
    }

    /// Sends everything queued and frees the arena.
    func flush() {
        if batch.pendingCount > 0 { note(batch.flush()) }
        forgetSent()
        if let ring, ring.isBroken {
            self.ring = nil
            logger.warning(
                "io_uring could not take a submission (the kernel is short of memory): transfer sockets use a system call each from now on")
        }
    }

    /// Keeps the socket of the messages being queued open until they are sent. Without it,
    /// a transfer that ends in the same turn (its client's ERROR, a new request from its
    /// port) would close its socket under its queued DATA: EBADF at the flush, or a reused
    /// number and someone else's socket.
    private func keepUntilFlushed(_ socket: DatagramSocket) {
        if socketsInFlight.last !== socket { socketsInFlight.append(socket) }
    }

    /// Frees the arena, the mappings and the sockets once nothing queued points into them.
    private func forgetSent() {
        if !socketsInFlight.isEmpty { socketsInFlight.removeAll(keepingCapacity: true) }
        window.reset()
        if !mappingsInFlight.isEmpty { mappingsInFlight.removeAll(keepingCapacity: true) }
    }

    private func note(_ result: DatagramSendBatch.Result) {
        if result.segmentationUnsupported, segmentationOffload {
            segmentationOffload = false
            kernelRefusedSegmentationOffload = true
            logger.notice(
                "the kernel refused a UDP GSO send (\(result.firstError.map { "\($0)" } ?? "unknown")): sending windows without segmentation offload from now on"
            )
        } else if let error = result.firstError {
            logger.debug("send failed: \(error)")
        }
    }
}

@available(*, unavailable)
extension DatagramOutbox: Sendable {}
