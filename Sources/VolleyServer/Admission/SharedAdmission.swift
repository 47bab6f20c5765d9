import Synchronization
import TFTPProtocol
import VolleySystem

/// The admission state all reactors of one server share, behind one lock: the limits and
/// buckets of ``AdmissionControl``, the transfers in flight, and which reactor serves each
/// client address and port.
///
/// Touched once per request and once per transfer start and end, never per block, so one
/// lock costs nothing measurable; it keeps `max_transfers`, the per-client limits and the
/// rate limits exact however the kernel spreads requests over the reactors.
final class SharedAdmission: Sendable {
    private struct State {
        var control: AdmissionControl
        var activeTransfers = 0
        /// Transfers (on any reactor) that run over a listening socket (single-port mode).
        var transfersOverListeners = 0
        /// The reactor serving each client address and port.
        var reactorByPeer: [SocketAddress: Int] = [:]
    }

    private let state: Mutex<State>

    init(limits: AdmissionLimits, now: UInt64) {
        state = Mutex(State(control: AdmissionControl(limits: limits, now: now)))
    }

    /// The limits in force.
    var limits: AdmissionLimits {
        get { state.withLock { $0.control.limits } }
        set { state.withLock { $0.control.limits = newValue } }
    }

    /// New requests are dropped from now on.
    func stopAccepting() {
        state.withLock { $0.control.acceptingRequests = false }
    }

    /// Transfers in flight on every reactor.
    var activeTransfers: Int { state.withLock { $0.activeTransfers } }

    /// Transfers in flight, on every reactor, that run over a listening socket.
    var transfersOverListeners: Int { state.withLock { $0.transfersOverListeners } }

    /// The decision for `request` from `client` (see ``AdmissionControl/decide(_:from:activeTransfers:now:)``),
    /// against the transfers in flight on every reactor.
    func decide(_ request: TFTPRequest, from client: SocketAddressKey, now: UInt64) -> AdmissionDecision {
        state.withLock { $0.control.decide(request, from: client, activeTransfers: $0.activeTransfers, now: now) }
    }

    /// Whether an ERROR may be sent to `client` now.
    func mayReplyWithError(to client: SocketAddressKey, now: UInt64) -> Bool {
        state.withLock { $0.control.mayReplyWithError(to: client, now: now) }
    }

    /// The reactor already serving the client at `peer`, if any.
    func reactor(serving peer: SocketAddress) -> Int? {
        state.withLock { $0.reactorByPeer[peer] }
    }

    /// Counts a transfer about to start on `reactor`, if it still fits the transfer limits:
    /// checked again here, in the same lock as the count, because another reactor may have
    /// started one since this request passed ``decide(_:from:now:)``. Returns `.admit` when
    /// counted, else the drop.
    func claimTransfer(peer: SocketAddress, client: SocketAddressKey, reactor: Int, overListener: Bool) -> AdmissionDecision {
        state.withLock { state in
            let decision = state.control.capacity(for: client, activeTransfers: state.activeTransfers)
            guard decision == .admit else { return decision }
            state.control.transferStarted(for: client)
            state.activeTransfers += 1
            if overListener { state.transfersOverListeners += 1 }
            state.reactorByPeer[peer] = reactor
            return .admit
        }
    }

    /// Counts a transfer of `reactor` that ended (or that was claimed and could not start);
    /// returns the transfers left over listeners.
    @discardableResult
    func transferEnded(peer: SocketAddress, client: SocketAddressKey, reactor: Int, overListener: Bool) -> Int {
        state.withLock { state in
            state.control.transferEnded(for: client)
            state.activeTransfers -= 1
            if overListener { state.transfersOverListeners -= 1 }
            if state.reactorByPeer[peer] == reactor { state.reactorByPeer[peer] = nil }
            return state.transfersOverListeners
        }
    }

    /// Counts a connection of the HTTP file server from `client` against the same limits as
    /// the transfers (`max_transfers`, `max_transfers_per_client`), in the same lock; `.admit` when counted.
    func claimConnection(client: SocketAddressKey) -> AdmissionDecision {
        state.withLock { state in
            let decision = state.control.capacity(for: client, activeTransfers: state.activeTransfers)
            guard decision == .admit else { return decision }
            state.control.transferStarted(for: client)
            state.activeTransfers += 1
            return .admit
        }
    }

    /// Counts a connection of ``claimConnection(client:)`` that closed.
    func connectionEnded(client: SocketAddressKey) {
        state.withLock { state in
            state.control.transferEnded(for: client)
            state.activeTransfers -= 1
        }
    }
}
