import Foundation
import HTTPTypes
import Hummingbird

/// The JSON error body of the API, `{"error": "FileNotFound", "message": "…"}`, for answers
/// made outside the generated handlers (authorization, unknown routes).
enum ErrorBody {
    static func response(status: HTTPResponse.Status, error: String, message: String, headers: HTTPFields = [:]) -> Response {
        let object = ["error": error, "message": message]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
