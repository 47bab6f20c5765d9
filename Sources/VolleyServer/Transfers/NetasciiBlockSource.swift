import Glibc
import TFTPProtocol
import VolleyReactor

/// Produces netascii blocks of a file on demand, for sending and re-sending.
///
/// Conversion changes lengths, so block k does not start at a computable file offset.
/// We remember where each block of the unacknowledged window starts (file offset plus
/// the half of a CR LF / CR NUL pair that spilled over), which is all a resend needs.
struct NetasciiBlockSource {
    private struct Checkpoint {
        var fileOffset: UInt64
        var encoder: NetasciiEncoder
    }

    private var checkpoints: [UInt64: Checkpoint] = [1: Checkpoint(fileOffset: 0, encoder: NetasciiEncoder())]

    /// The converted (wire) size of the file: what tsize reports in netascii mode.
    static func wireSize(of descriptor: Int32, fileSize: UInt64) throws(SystemError) -> UInt64 {
        var total: UInt64 = 0
        var offset: UInt64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while offset < fileSize {
            let got = try syscall("pread") { pread(descriptor, chunk.baseAddress, chunk.count, off_t(offset)) }
            if got == 0 { break }
            total += NetasciiEncoder.encodedLength(of: UnsafeRawBufferPointer(rebasing: chunk[0..<got]))
            offset += UInt64(got)
        }
        return total
    }

    /// Writes block `block` (converted) into `destination` (room for `blockSize` bytes) and
    /// returns its length. Blocks must be produced in order the first time; any block from
    /// the oldest unacknowledged one on can be produced again.
    mutating func produce(
        block: UInt64, blockSize: Int, from descriptor: Int32, into destination: UnsafeMutableRawPointer,
        scratch: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> Int {
        guard var checkpoint = checkpoints[block] else { return 0 }
        var written = 0
        var offset = checkpoint.fileOffset
        let output = UnsafeMutableRawBufferPointer(start: destination, count: blockSize)
        while written < blockSize {
            let want = min(scratch.count, blockSize - written)
            let got = try syscall("pread") { pread(descriptor, scratch.baseAddress, want, off_t(offset)) }
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
