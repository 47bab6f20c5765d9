import HTTPTypes
import Hummingbird

/// Refuses every request without the bearer token with 401 (when a token is configured).
struct AuthorizationMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: ControlToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard token.accepts(authorization: request.headers[.authorization]) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"volley\""
            return ErrorBody.response(
                status: .unauthorized, error: "Unauthorized",
                message: "this control plane needs Authorization: Bearer <token> (see control_token_file)",
                headers: headers)
        }
        return try await next(request, context)
    }
}
