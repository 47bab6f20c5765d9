import Glibc
import TFTPProtocol
import VolleyReactor

/// The reactor's one shared buffer for outgoing windows.
///
/// A window of N blocks is laid out as N slots of `4 + blockSize` bytes: one `preadv`
/// fills every slot's payload straight from the page cache, the DATA headers are written
/// in front, and one `sendmmsg` sends the slots. Sends complete before the next window is
/// built, so a single buffer serves every transfer with no per-packet allocation.
final class WindowBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private var byteCapacity: Int
    private(set) var lengths: UnsafeMutablePointer<Int>
    private var vectors: UnsafeMutablePointer<iovec>
    private var slotCapacity: Int

    init(initialBytes: Int = 64 * 1024, initialSlots: Int = 64) {
        byteCapacity = initialBytes
        base = .allocate(byteCount: initialBytes, alignment: 4096)
        slotCapacity = initialSlots
        lengths = .allocate(capacity: initialSlots)
        vectors = .allocate(capacity: initialSlots)
    }

    deinit {
        base.deallocate()
        lengths.deallocate()
        vectors.deallocate()
    }

    /// Bytes between the starts of two slots for `blockSize`.
    static func stride(blockSize: Int) -> Int { TFTPPacketEncoder.dataHeaderSize + blockSize }

    /// Makes room for `count` slots of `blockSize`.
    func reserve(blockSize: Int, count: Int) {
        let needed = Self.stride(blockSize: blockSize) * count
        if needed > byteCapacity {
            base.deallocate()
            byteCapacity = max(needed, byteCapacity * 2)
            base = .allocate(byteCount: byteCapacity, alignment: 4096)
        }
        if count > slotCapacity {
            lengths.deallocate()
            vectors.deallocate()
            slotCapacity = max(count, slotCapacity * 2)
            lengths = .allocate(capacity: slotCapacity)
            vectors = .allocate(capacity: slotCapacity)
        }
    }

    /// The start of slot `index`.
    func slot(_ index: Int, blockSize: Int) -> UnsafeMutableRawPointer {
        base + index * Self.stride(blockSize: blockSize)
    }

    /// Reads `count` consecutive blocks starting at file `offset` into the slots' payloads
    /// with one `preadv`; `payloadLengths(i)` is block i's length. Sets ``lengths`` to the
    /// datagram sizes (header included). Returns false if the file ended early.
    func readBlocks(
        from descriptor: Int32, offset: UInt64, blockSize: Int, count: Int, payloadLength: (Int) -> Int
    ) throws(SystemError) -> Bool {
        reserve(blockSize: blockSize, count: count)
        var expected = 0
        for i in 0..<count {
            let length = payloadLength(i)
            vectors[i] = iovec(iov_base: slot(i, blockSize: blockSize) + TFTPPacketEncoder.dataHeaderSize, iov_len: length)
            lengths[i] = TFTPPacketEncoder.dataHeaderSize + length
            expected += length
        }
        guard expected > 0 else { return true }
        var done = 0
        var firstVector = 0
        var position = off_t(offset)
        // Page-cache reads normally complete at once; loop for the rare short read.
        while done < expected {
            let got = preadv(descriptor, vectors + firstVector, Int32(count - firstVector), position)
            if got < 0 {
                if errno == EINTR { continue }
                throw SystemError("preadv", errno: errno)
            }
            if got == 0 { return false }
            done += got
            position += off_t(got)
            var remaining = got
            while remaining > 0, firstVector < count {
                let vectorLength = vectors[firstVector].iov_len
                if remaining >= vectorLength {
                    remaining -= vectorLength
                    firstVector += 1
                } else {
                    vectors[firstVector].iov_base += remaining
                    vectors[firstVector].iov_len -= remaining
                    remaining = 0
                }
            }
            while firstVector < count, vectors[firstVector].iov_len == 0 { firstVector += 1 }
        }
        return true
    }
}

