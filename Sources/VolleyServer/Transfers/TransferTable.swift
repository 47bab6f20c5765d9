import VolleySystem

/// The transfers in flight on one reactor, by slot and by client address and port.
///
/// The table owns the transfers: ``insert(_:)`` is the one way in, ``remove(_:)`` the one
/// way out, and a transfer's socket and file are released when it leaves.
struct TransferTable {
    private var slots: [ReadTransfer?] = []
    private var freeSlots: [Int] = []
    private var slotByPeer: [SocketAddress: Int] = [:]
    /// Transfers in flight.
    private(set) var count = 0

    /// Adds a transfer and sets its slot.
    mutating func insert(_ transfer: ReadTransfer) {
        let slot =
            freeSlots.popLast()
            ?? {
                slots.append(nil)
                return slots.count - 1
            }()
        transfer.slot = slot
        slots[slot] = transfer
        slotByPeer[transfer.peer] = slot
        count += 1
    }

    /// Removes a transfer; removing one that is not in the table does nothing.
    mutating func remove(_ transfer: ReadTransfer) {
        guard transfer.slot >= 0, transfer.slot < slots.count, slots[transfer.slot] === transfer else { return }
        slots[transfer.slot] = nil
        freeSlots.append(transfer.slot)
        if slotByPeer[transfer.peer] == transfer.slot { slotByPeer[transfer.peer] = nil }
        count -= 1
    }

    /// The transfer in flight with the client at `peer`, if any.
    func transfer(for peer: SocketAddress) -> ReadTransfer? {
        slotByPeer[peer].flatMap { slots[$0] }
    }

    /// Every transfer in flight.
    var all: [ReadTransfer] { slots.compactMap { $0 } }
}
