import Foundation
import OpenAPIRuntime
import VolleyServer

extension ControlAPI {
    func getServer(_ input: Operations.GetServer.Input) async throws -> Operations.GetServer.Output {
        .ok(.init(body: .json(status())))
    }

    func stopServer(_ input: Operations.StopServer.Input) async throws -> Operations.StopServer.Output {
        do {
            try server.stopAcceptingRequests()
        } catch {
            return .default(statusCode: 409, .init(body: .json(APIError(error).body)))
        }
        logger.notice("control plane: stopping the TFTP listener; transfers in flight may finish")
        // The drain runs on after the answer, as with SIGTERM; the control plane stays up.
        Task.detached { [server] in await server.drainAndStop() }
        return .ok(.init(body: .json(status())))
    }

    func startServer(_ input: Operations.StartServer.Input) async throws -> Operations.StartServer.Output {
        do {
            try server.start()
        } catch {
            return .default(statusCode: APIError(error).status, .init(body: .json(APIError(error).body)))
        }
        logger.notice("control plane: TFTP listener started on \(server.host) port \(server.port)")
        return .ok(.init(body: .json(status())))
    }

    func reloadConfiguration(_ input: Operations.ReloadConfiguration.Input) async throws -> Operations.ReloadConfiguration.Output {
        logger.notice("control plane: reloading the configuration")
        if let problem = reload() {
            return .default(statusCode: 422, .init(body: .json(.init(error: "InvalidConfiguration", message: problem))))
        }
        return .ok(.init(body: .json(status())))
    }

    private func status() -> Components.Schemas.ServerStatus {
        let statistics = server.statistics
        return .init(
            running: server.isRunning, host: server.host, port: server.port,
            transfersActive: statistics.activeTransfers, served: statistics.completedTransfers,
            bytesSent: Int64(clamping: statistics.bytesSent))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        let running = server.isRunning
        let age = health.ageSeconds
        guard running else { return .ok(.init(body: .json(.init(status: .stopped, running: false, heartbeatAgeSeconds: age)))) }
        if let age, age * 1000 <= Double(health.stallMilliseconds) {
            return .ok(.init(body: .json(.init(status: .ok, running: true, heartbeatAgeSeconds: age))))
        }
        return .serviceUnavailable(.init(body: .json(.init(status: .stalled, running: true, heartbeatAgeSeconds: age))))
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(metrics.render()))))
    }
}
