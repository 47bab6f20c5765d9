/// How long to wait for an ACK, how fast to back off, and when to give up.
///
/// Adaptive (the default): the timeout follows the round trip measured on the transfer (RFC 6298, see
/// ``RoundTripEstimator``), kept within ``adaptiveTimeoutRange``;
/// ``initialTimeoutMilliseconds`` is used until the first measurement. Fixed (the client negotiated `timeout`,
/// RFC 2349): ``initialTimeoutMilliseconds`` is the timeout, whatever the round trip. Either way each timeout
/// doubles the next one up to ``maximumTimeoutMilliseconds``, and progress brings it back.
public struct RetransmissionPolicy: Hashable, Sendable {
    /// The lowest timeout the round-trip estimate may give (adaptive policies only; a ceiling below it wins).
    ///
    /// Loopback and LAN round trips are well under a millisecond, and RFC 6298's estimate would follow them
    /// down to a few milliseconds. But a client answers on its own schedule: it is descheduled, its timer ticks
    /// in tens of milliseconds, a window arrives as one GSO burst it drains in one go. A tighter floor makes the
    /// server re-send blocks that are merely late, which costs bandwidth and makes lock-step clients ACK the
    /// duplicates. 50 ms is still 20 times faster than the classic 1 s, so a lost datagram costs little.
    public static let minimumAdaptiveTimeoutMilliseconds = 50
    /// The clock granularity G in RFC 6298's RTO = SRTT + max(G, 4·RTTVAR): the server's loop clock counts
    /// milliseconds.
    public static let clockGranularityMilliseconds = 1

    /// The first timeout after a send: until the first round-trip measurement when adaptive, always when fixed.
    public var initialTimeoutMilliseconds: Int
    /// The ceiling for the doubling backoff and for the round-trip estimate.
    public var maximumTimeoutMilliseconds: Int
    /// After this many timeouts in a row with no datagram at all from the client, the transfer is abandoned
    /// (once they also add up to ``silenceLimitMilliseconds``).
    public var maximumRetransmissions: Int
    /// True: the timeout is set from the measured round trip (RFC 6298); false: `initialTimeoutMilliseconds`
    /// is used as given (the client negotiated `timeout`, RFC 2349).
    public var isAdaptive: Bool
    /// The lowest timeout the round-trip estimate may give (``minimumAdaptiveTimeoutMilliseconds`` unless the
    /// server configures another floor; a ceiling below it wins).
    public var minimumTimeoutMilliseconds: Int = Self.minimumAdaptiveTimeoutMilliseconds

    /// Creates a policy; the defaults start at 1 s, adapt to the round trip, back off up to 8 s and give up
    /// after 5 silent timeouts in a row that add up to 31 s.
    public init(
        initialTimeoutMilliseconds: Int = 1000, maximumTimeoutMilliseconds: Int = 8000, maximumRetransmissions: Int = 5,
        isAdaptive: Bool = true
    ) {
        self.initialTimeoutMilliseconds = initialTimeoutMilliseconds
        self.maximumTimeoutMilliseconds = maximumTimeoutMilliseconds
        self.maximumRetransmissions = maximumRetransmissions
        self.isAdaptive = isAdaptive
    }

    /// How long the timeouts in a row must add up to before a silent client is given up: as long as
    /// `maximumRetransmissions` + 1 timeouts take from `initialTimeoutMilliseconds`, doubling up to the maximum
    /// (1+2+4+8+8+8 = 31 s with the defaults).
    ///
    /// With a fixed timeout, or before the first round-trip measurement, the count alone reaches this. With a
    /// measured 50 ms the count would be reached after 3 s, which a real client outlasts: its own timer (often
    /// 5 s) re-sends the ACK we lost. So the faster timeout re-sends sooner, never gives up sooner.
    public var silenceLimitMilliseconds: Int {
        let ceiling = max(maximumTimeoutMilliseconds, 1)
        var timeout = min(max(initialTimeoutMilliseconds, 1), ceiling)
        // Timeouts still to add: maximumRetransmissions + 1.
        let (count, countOverflow) = max(maximumRetransmissions, 0).addingReportingOverflow(1)
        var remaining = countOverflow ? Int.max : count
        var total = 0
        while remaining > 0, timeout < ceiling {
            let (sum, overflow) = total.addingReportingOverflow(timeout)
            if overflow { return Int.max }
            total = sum
            remaining -= 1
            let (doubled, doubledOverflow) = timeout.multipliedReportingOverflow(by: 2)
            timeout = doubledOverflow ? ceiling : min(doubled, ceiling)
        }
        // The rest are all at the ceiling.
        let (rest, restOverflow) = ceiling.multipliedReportingOverflow(by: remaining)
        let (sum, sumOverflow) = total.addingReportingOverflow(rest)
        return restOverflow || sumOverflow ? Int.max : sum
    }

    /// The range the round-trip estimate is kept in: from the floor (or the ceiling, when that is lower)
    /// to the ceiling.
    public var adaptiveTimeoutRange: ClosedRange<Int> {
        let ceiling = max(maximumTimeoutMilliseconds, 1)
        return min(max(minimumTimeoutMilliseconds, 1), ceiling)...ceiling
    }
}
