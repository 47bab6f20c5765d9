import HTTPTypes
import Hummingbird

/// The live page at `/`: boards as rows with their transfers, kept current from the event stream.
///
/// Its files (`index.html`, `live.js`, `live.css`, `icon.svg` beside this one) are compiled into the
/// binary (`embedInCode` in Package.swift): nothing is read from disk or fetched from elsewhere
/// at run time. They hold no data, so they are served without the bearer token; the page asks
/// for the token itself and sends it with its API calls (see ``AuthorizationMiddleware``).
enum LivePage {
    /// One file of the page.
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let bytes: [UInt8]
    }

    static let assets: [Asset] = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        Asset(path: "/ui/live.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.live_js),
        Asset(path: "/ui/live.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.live_css),
        Asset(path: "/ui/icon.svg", contentType: "image/svg+xml", bytes: PackageResources.icon_svg),
    ]

    /// The paths served without the token (GET and HEAD only).
    static let paths: Set<String> = Set(assets.map(\.path))

    /// Only this origin's own script, style and API; no inline code, no frames, no forms sent anywhere.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// Adds `GET` and `HEAD` of every asset to `router`.
    static func register<Context: RequestContext>(on router: Router<Context>) {
        for asset in assets {
            let response = response(for: asset)
            router.get(RouterPath(asset.path)) { _, _ in response }
            router.head(RouterPath(asset.path)) { _, _ in response.createHeadResponse() }
        }
    }

    private static func response(for asset: Asset) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "no-referrer"
        headers[.xFrameOptions] = "DENY"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}

extension HTTPField.Name {
    fileprivate static let referrerPolicy = Self("Referrer-Policy")!
    fileprivate static let xFrameOptions = Self("X-Frame-Options")!
}
