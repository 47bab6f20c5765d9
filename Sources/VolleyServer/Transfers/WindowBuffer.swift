import TFTPProtocol
import VolleySystem

/// The reactor's one shared arena for outgoing DATA blocks.
///
/// A window of N blocks takes N consecutive slots of `4 + blockSize` bytes: one `preadv`
/// fills every slot's payload straight from the page cache, the DATA headers are written
/// in front, and the slots are queued for `sendmmsg` (several slots at a time with UDP GSO,
/// since they are contiguous). Windows of many transfers can share the arena until the
/// queued sends are flushed; then it is reused from the start. No allocation per packet.
final class WindowBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private var byteCapacity: Int
    private var used = 0
    /// Payload lengths of the blocks of the window being built.
    private(set) var lengths: UnsafeMutablePointer<Int>
    private let vectors: IOVectors
    private var slotCapacity: Int

    init(initialBytes: Int = 4 << 20, initialSlots: Int = 1024) {
        byteCapacity = initialBytes
        base = .allocate(byteCount: initialBytes, alignment: 4096)
        slotCapacity = initialSlots
        lengths = .allocate(capacity: initialSlots)
        vectors = IOVectors(capacity: initialSlots)
    }

    deinit {
        base.deallocate()
        lengths.deallocate()
    }

    /// Bytes between the starts of two slots for `blockSize`.
    static func stride(blockSize: Int) -> Int { TFTPPacketEncoder.dataHeaderSize + blockSize }

    /// Whether `count` slots of `blockSize` fit behind what is already in use.
    func fits(blockSize: Int, count: Int) -> Bool {
        used + Self.stride(blockSize: blockSize) * count <= byteCapacity && count <= slotCapacity
    }

    /// Forgets every window (call only after their sends were flushed).
    func reset() { used = 0 }

    /// Takes `count` slots of `blockSize`; the caller checked ``fits(blockSize:count:)`` or
    /// flushed and reset. Grows (only when empty) for a window larger than the arena.
    func take(blockSize: Int, count: Int) -> UnsafeMutableRawPointer {
        let bytes = Self.stride(blockSize: blockSize) * count
        if used + bytes > byteCapacity || count > slotCapacity {
            precondition(used == 0, "the window arena can only grow while empty")
            if bytes > byteCapacity {
                base.deallocate()
                byteCapacity = bytes
                base = .allocate(byteCount: bytes, alignment: 4096)
            }
            if count > slotCapacity {
                lengths.deallocate()
                slotCapacity = count
                lengths = .allocate(capacity: count)
                vectors.reserve(count)
            }
        }
        let slots = base + used
        used += bytes
        return slots
    }

    /// Reads `count` consecutive blocks starting at file `offset` into the payloads of the
    /// slots at `slots` with one `preadv`; `payloadLength(i)` is block i's length, kept in
    /// ``lengths``. Returns false if the file ended early.
    func readBlocks(
        into slots: UnsafeMutableRawPointer, from descriptor: Descriptor, offset: UInt64, blockSize: Int, count: Int,
        payloadLength: (Int) -> Int
    ) throws(SystemError) -> Bool {
        let stride = Self.stride(blockSize: blockSize)
        for i in 0..<count {
            let length = payloadLength(i)
            vectors.set(i, base: slots + i * stride + TFTPPacketEncoder.dataHeaderSize, length: length)
            lengths[i] = length
        }
        return try FileSystem.readFully(descriptor, into: vectors, count: count, at: offset)
    }

    /// Records block `index`'s payload length (for windows produced without ``readBlocks``).
    func setLength(_ length: Int, at index: Int) { lengths[index] = length }
}
