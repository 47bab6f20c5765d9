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
        let transfers = events.transfersInFlight.compactMap { event -> Components.Schemas.TransferInFlight? in
            guard let transfer = event.transfer else { return nil }
            return .init(
                id: Int64(clamping: event.id), client: event.client, file: transfer.fileName, rule: transfer.rule, started: event.time,
                mode: transfer.mode, blksize: transfer.blockSize, windowsize: transfer.windowSize,
                tsize: transfer.transferSize.map { Int64(clamping: $0) })
        }
        return .ok(.init(body: .json(transfers)))
    }
}
