import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends `Last-Modified` as the HTTP date it is.
///
/// The OpenAPI runtime writes every string header in URI "simple" style, percent-encoding
/// its spaces, commas and colons (`Sun%2C%2006%20Nov…`), which no HTTP client reads as a date.
/// The generated handler still sets the header, so `openapi.yaml` documents it; this undoes
/// the encoding on the way out.
struct DateHeaderMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var (response, responseBody) = try await next(request, body, metadata)
        if let encoded = response.headerFields[.lastModified], let date = encoded.removingPercentEncoding {
            response.headerFields[.lastModified] = date
        }
        return (response, responseBody)
    }
}
