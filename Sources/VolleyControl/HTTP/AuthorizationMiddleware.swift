import HTTPTypes
import Hummingbird

/// Refuses every request without the bearer token with 401 (when a token is configured),
/// except `GET` and `HEAD` of the live page's own files (``LivePage/paths``): they hold no
/// data, and the page asks for the token itself.
struct AuthorizationMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: ControlToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.isPublic(method: request.method, path: request.uri.path) { return try await next(request, context) }
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

    /// Whether a request may pass without the token: only GET or HEAD of exactly a live page path.
    static func isPublic(method: HTTPRequest.Method, path: String) -> Bool {
        (method == .get || method == .head) && LivePage.paths.contains(path)
    }
}
