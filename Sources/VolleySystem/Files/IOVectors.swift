import Glibc

/// A reusable array of `iovec`s for vectored reads: wired once, refilled per read.
public final class IOVectors {
    private(set) var storage: UnsafeMutablePointer<iovec>
    /// How many vectors fit.
    public private(set) var capacity: Int

    /// Allocates room for `capacity` vectors.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// Points vector `index` at `length` bytes from `base`.
    public func set(_ index: Int, base: UnsafeMutableRawPointer, length: Int) {
        precondition(index < capacity)
        storage[index] = iovec(iov_base: base, iov_len: length)
    }

    /// Grows to at least `capacity` vectors (the contents are dropped).
    public func reserve(_ capacity: Int) {
        guard capacity > self.capacity else { return }
        storage.deallocate()
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }
}

@available(*, unavailable)
extension IOVectors: Sendable {}
