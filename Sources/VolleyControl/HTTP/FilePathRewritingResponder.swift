import HTTPTypes
import Hummingbird

/// Lets `/v1/files/{path}` take a path with literal slashes (`/v1/files/boot/vmlinuz`).
///
/// The router matches `{path}` as one segment, so the slashes after `/v1/files/` are
/// percent-encoded before routing (router middleware runs only after it); the API then
/// decodes `boot%2Fvmlinuz` to `boot/vmlinuz`, exactly as when the client encoded them
/// itself. Dot segments are left as they are: the file layer refuses any name with `..`.
struct FilePathRewritingResponder<Base: HTTPResponder>: HTTPResponder {
    typealias Context = Base.Context
    let base: Base

    static var prefix: String { "/v1/files/" }

    func respond(to request: Request, context: Context) async throws -> Response {
        guard let rewritten = Self.rewrite(request.head.path) else { return try await base.respond(to: request, context: context) }
        var head = request.head
        head.path = rewritten
        return try await base.respond(to: Request(head: head, body: request.body), context: context)
    }

    /// The target with the slashes of the file path encoded, or nil when nothing changes.
    static func rewrite(_ target: String?) -> String? {
        guard let target, target.hasPrefix(prefix) else { return nil }
        let queryStart = target.firstIndex(of: "?") ?? target.endIndex
        let filePath = target[target.index(target.startIndex, offsetBy: prefix.count)..<queryStart]
        guard filePath.contains("/") else { return nil }
        return prefix + filePath.replacingOccurrences(of: "/", with: "%2F") + target[queryStart...]
    }
}
