/// A token bucket: `rate` tokens a second, holding at most `burst`. Pure; time comes in as
/// monotonic milliseconds.
struct TokenBucket {
    private var tokens: Double
    private var last: UInt64

    init(burst: Int, now: UInt64) {
        tokens = Double(burst)
        last = now
    }

    /// Takes one token if there is one; `rate` 0 means unlimited.
    mutating func take(rate: Int, burst: Int, now: UInt64) -> Bool {
        guard rate > 0 else { return true }
        // Several reactors share a bucket, each with its own clock reading: a reading older
        // than the last one adds nothing (it must not wrap around into a full bucket).
        let elapsed = now > last ? Double(now - last) / 1000 : 0
        last = max(last, now)
        tokens = min(Double(max(burst, 1)), tokens + elapsed * Double(rate))
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// Token buckets per client address in a fixed-size table, so that a flood from spoofed
/// sources cannot grow memory: a new address takes over the slot its hash lands on.
/// (Two addresses sharing a slot share a bucket for a while: stricter, never looser.)
struct PerClientBuckets {
    private struct Slot {
        var address: SocketAddressKey
        var bucket: TokenBucket
    }

    private var slots: [Slot?]

    init(size: Int = 4096) {
        slots = Array(repeating: nil, count: size)
    }

    /// Takes a token from `address`'s bucket.
    mutating func take(_ address: SocketAddressKey, rate: Int, burst: Int, now: UInt64) -> Bool {
        guard rate > 0 else { return true }
        let index = Int(UInt(bitPattern: address.hashValue) % UInt(slots.count))
        if slots[index]?.address != address {
            slots[index] = Slot(address: address, bucket: TokenBucket(burst: burst, now: now))
        }
        return slots[index]!.bucket.take(rate: rate, burst: burst, now: now)
    }
}

/// A client's IP address without its port: what per-client limits count by.
typealias SocketAddressKey = String
