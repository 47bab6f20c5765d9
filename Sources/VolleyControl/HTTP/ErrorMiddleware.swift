import Hummingbird
import OpenAPIRuntime

/// Gives the errors thrown outside the handlers a JSON body: a request the generated code
/// cannot decode (bad JSON, a wrong content type) is a 400, anything else a 500; a route
/// that does not exist is a 404.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServerError {
            if error.operationInput == nil {
                return ErrorBody.response(
                    status: .badRequest, error: "BadRequest", message: "\(error.causeDescription): \(error.underlyingError)")
            }
            context.logger.error("control plane: \(error.operationID) failed: \(error.underlyingError)")
            return ErrorBody.response(status: .internalServerError, error: "InternalError", message: "\(error.underlyingError)")
        } catch let error as HTTPError where error.status == .notFound {
            return ErrorBody.response(
                status: .notFound, error: "NoSuchRoute", message: "no \(request.method) \(request.uri.path) in the API (see openapi.yaml)")
        }
    }
}
