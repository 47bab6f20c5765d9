import Foundation
import OpenAPIRuntime
import VolleySystem

extension ControlAPI {
    func streamEvents(_ input: Operations.StreamEvents.Input) async throws -> Operations.StreamEvents.Output {
        let filter: EventFilter
        do {
            filter = try EventFilter(client: input.query.client, mac: input.query.mac, path: input.query.path, type: input.query._type)
        } catch {
            return .default(statusCode: error.status, .init(body: .json(error.body)))
        }
        let lastID = input.headers.lastEventID.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        return .ok(.init(body: .textEventStream(EventStreamBody.make(events.subscribe(after: lastID), filter: filter))))
    }
}

extension ControlAPI {
    func listTransfers(_ input: Operations.ListTransfers.Input) async throws -> Operations.ListTransfers.Output {
        .ok(.init(body: .json(events.transfersInFlight.compactMap(Self.inFlight))))
    }

    func listClients(_ input: Operations.ListClients.Input) async throws -> Operations.ListClients.Output {
        let entries = events.boards.map { board, inFlight in
            Components.Schemas.ClientEntry(
                client: board.address, mac: board.mac, firstSeen: WallClock.utcTimestamp(epochMilliseconds: board.firstSeen),
                lastSeen: WallClock.utcTimestamp(epochMilliseconds: board.lastSeen),
                fetches: board.fetches.map { fetch in
                    .init(
                        file: fetch.file, outcome: fetch.outcome, reason: fetch.reason, bytes: Int64(clamping: fetch.bytes),
                        durationS: (fetch.durationSeconds * 1000).rounded() / 1000,
                        time: WallClock.utcTimestamp(epochMilliseconds: fetch.epochMilliseconds))
                },
                inFlight: inFlight.compactMap(Self.inFlight), lastError: board.lastError)
        }
        return .ok(.init(body: .json(entries)))
    }

    /// A transfer in flight as the API lists it: its start event, and its latest progress.
    private static func inFlight(_ transfer: InFlightTransfer) -> Components.Schemas.TransferInFlight? {
        let event = transfer.started
        guard let described = event.transfer else { return nil }
        let progress = transfer.progress
        return .init(
            id: Int64(clamping: event.id), client: event.client, mac: event.mac, file: described.fileName,
            served: described.servedName, rule: described.rule, started: event.time, mode: described.mode,
            blksize: described.blockSize, windowsize: described.windowSize, tsize: described.transferSize.map { Int64(clamping: $0) },
            acknowledged: progress.map { Int64(clamping: $0.bytesAcknowledged) }, bytes: progress.map { Int64(clamping: $0.bytesSent) },
            retransmissions: progress?.retransmissions, elapsedS: progress.map { ($0.elapsedSeconds * 1000).rounded() / 1000 })
    }
}
