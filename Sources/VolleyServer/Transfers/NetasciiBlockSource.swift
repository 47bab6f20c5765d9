import TFTPProtocol
import VolleySystem

/// Produces netascii blocks of a file on demand, for sending and re-sending, while the
/// transfer goes: no pass over the whole file up front, and memory bounded by the window.
///
/// Conversion changes lengths, so block k does not start at a computable file offset.
/// We remember where each block of the unacknowledged window starts (file offset plus
/// the half of a CR LF / CR NUL pair that spilled over), which is all a resend needs.
struct NetasciiBlockSource {
    private struct Checkpoint {
        var fileOffset: UInt64
        var encoder: NetasciiEncoder
    }

    /// The largest file whose converted size is computed for tsize before answering: the
    /// scan runs on the reactor thread, so it is bounded like one window's read. Larger
    /// netascii files are sent without tsize.
    static let transferSizeScanLimit: UInt64 = 1 << 20

    private var checkpoints: [UInt64: Checkpoint] = [1: Checkpoint(fileOffset: 0, encoder: NetasciiEncoder())]

    /// The converted (wire) size of a file of at most ``transferSizeScanLimit`` bytes, or nil
    /// for a larger one.
    static func wireSize(of descriptor: Descriptor, fileSize: UInt64) throws(SystemError) -> UInt64? {
        guard fileSize <= transferSizeScanLimit else { return nil }
        var total: UInt64 = 0
        var offset: UInt64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while offset < fileSize {
            let got = try FileSystem.read(descriptor, into: chunk, at: offset)
            if got == 0 { break }
            total += NetasciiEncoder.encodedLength(of: UnsafeRawBufferPointer(rebasing: chunk[0..<got]))
            offset += UInt64(got)
        }
        return total
    }

    /// A block was asked for whose start is not known: blocks must be produced in order.
    struct MissingCheckpoint: Error, CustomStringConvertible {
        let block: UInt64
        var description: String { "netascii block \(block) requested before the block ahead of it was produced" }
    }

    /// Writes block `block` (converted) into `destination` (room for `blockSize` bytes) and
    /// returns its length: shorter than `blockSize` only for the last block. Blocks must be
    /// produced in order the first time; any block from the oldest unacknowledged one on
    /// can be produced again.
    /// - Throws: ``MissingCheckpoint`` for a block out of order, ``SystemError`` on a read error.
    mutating func produce(
        block: UInt64, blockSize: Int, from descriptor: Descriptor, into destination: UnsafeMutableRawPointer,
        scratch: UnsafeMutableRawBufferPointer
    ) throws -> Int {
        guard var checkpoint = checkpoints[block] else { throw MissingCheckpoint(block: block) }
        var written = 0
        var offset = checkpoint.fileOffset
        let output = UnsafeMutableRawBufferPointer(start: destination, count: blockSize)
        while written < blockSize {
            let want = min(scratch.count, blockSize - written)
            let got = try FileSystem.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<want]), at: offset)
            let input = UnsafeRawBufferPointer(rebasing: scratch[0..<got])
            let (consumed, produced) = checkpoint.encoder.encode(input, into: UnsafeMutableRawBufferPointer(rebasing: output[written...]))
            written += produced
            offset += UInt64(consumed)
            if got == 0 {
                // End of file: only a pending half-pair can still come out.
                if checkpoint.encoder.pendingByte == nil || produced == 0 { break }
            }
        }
        checkpoints[block + 1] = Checkpoint(fileOffset: offset, encoder: checkpoint.encoder)
        return written
    }

    /// Forgets the starts of blocks at or below `block` (acknowledged).
    mutating func forget(upTo block: UInt64) {
        checkpoints = checkpoints.filter { $0.key > block }
    }
}
