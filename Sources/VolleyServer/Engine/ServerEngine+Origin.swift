import TFTPProtocol
import VolleySystem

/// A read request waiting for the origin to bring its file into the cache.
struct ParkedRequest {
    var request: TFTPRequest
    var client: SocketAddress
    var listener: Listener
    var info: PacketInfo?
    var rule: String?
    var options: RuleOptions
}

extension ServerEngine {
    /// Parks the request until the origin has refreshed `name`; the first request for a name
    /// starts the refresh, later ones (other clients, or the same client asking again) wait for it.
    func park(_ parked: ParkedRequest, name: String) {
        guard let origin = resolver.origin, let post = postToReactor else { return }
        if var waiting = parkedRequests[name] {
            if !waiting.contains(where: { $0.client == parked.client }) { waiting.append(parked) }
            parkedRequests[name] = waiting
            return
        }
        parkedRequests[name] = [parked]
        logger.info("\(name.debugDescription) is not under the root: asking the origin")
        let refreshes = originRefreshes
        Task.detached {
            let outcome = await refreshes.refresh(name, from: origin)
            post { engine in engine.originAnswered(name, outcome) }
        }
    }

    /// Resumes every request parked on `name`.
    private func originAnswered(_ name: String, _ outcome: OriginOutcome) {
        guard let waiting = parkedRequests.removeValue(forKey: name) else { return }
        for parked in waiting {
            switch outcome {
            case .ready:
                guard let cache = resolver.cacheRoot() else { continue }
                serve(
                    parked.request, from: parked.client, via: parked.listener, info: parked.info,
                    resolved: ResolvedName(rule: parked.rule, root: cache, name: Array(name.utf8), options: parked.options),
                    allowOrigin: false)
            case .notFound(let detail):
                refuse(
                    parked.client, via: parked.listener, info: parked.info, file: parked.request.filename, .fileNotFound,
                    .fileNotFound, "File not found", detail: "not under the root, and the origin does not have it: \(detail)")
            case .failed(let detail):
                warnAtMostOncePerSecond("origin", "the origin failed: \(detail)")
                refuse(
                    parked.client, via: parked.listener, info: parked.info, file: parked.request.filename, .serverError,
                    .notDefined, "Origin unavailable, try again", detail: "the origin failed: \(detail)")
            }
        }
    }
}
