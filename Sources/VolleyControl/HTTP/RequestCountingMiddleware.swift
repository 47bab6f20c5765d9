import Hummingbird

/// Counts every control-plane request by method and status for `/metrics`.
struct RequestCountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: TransferMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method.rawValue
        do {
            let response = try await next(request, context)
            metrics.countControlRequest(method: method, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            metrics.countControlRequest(method: method, status: error.status.code)
            throw error
        } catch {
            metrics.countControlRequest(method: method, status: 500)
            throw error
        }
    }
}
