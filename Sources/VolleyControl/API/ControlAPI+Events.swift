import Foundation
import OpenAPIRuntime

extension ControlAPI {
    func streamEvents(_ input: Operations.StreamEvents.Input) async throws -> Operations.StreamEvents.Output {
        let filter: EventFilter
        do {
            filter = try EventFilter(client: input.query.client, path: input.query.path, type: input.query._type)
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
                client: board.address, firstSeen: board.firstSeen, lastSeen: board.lastSeen,
                fetches: board.fetches.map { fetch in
                    .init(
                        file: fetch.file, outcome: fetch.outcome, reason: fetch.reason, bytes: Int64(clamping: fetch.bytes),
                        durationS: (fetch.durationSeconds * 1000).rounded() / 1000, time: fetch.time)
                },
                inFlight: inFlight.compactMap(Self.inFlight), lastError: board.lastError)
        }
        return .ok(.init(body: .json(entries)))
    }

    /// A transfer in flight as the API lists it, from its start event.
    private static func inFlight(_ event: ControlEvent) -> Components.Schemas.TransferInFlight? {
        guard let transfer = event.transfer else { return nil }
        return .init(
            id: Int64(clamping: event.id), client: event.client, file: transfer.fileName, rule: transfer.rule, started: event.time,
            mode: transfer.mode, blksize: transfer.blockSize, windowsize: transfer.windowSize,
            tsize: transfer.transferSize.map { Int64(clamping: $0) })
    }
}
