import Foundation
import Logging
import VolleyServer
import Yams

/// The settings of `volley serve`, as read from YAML and overridden by flags.
///
/// YAML keys are snake_case (`root_dir`, `host`, `port` as in the Jumpstarter driver).
/// Unknown keys are an error, so a typo never silently falls back to a default.
struct VolleySettings: Decodable, Equatable {
    var rootDir: String?
    var host: String?
    var port: Int?
    var maxBlockSize: Int?
    var maxWindowSize: Int?
    var mtuClamp: Bool?
    var retransmitTimeoutMs: Int?
    var maxRetransmitTimeoutMs: Int?
    var maxRetries: Int?
    var maxTransfers: Int?
    var logLevel: String?
    var drainTimeoutMs: Int?
    var singlePort: Bool?
    var segmentationOffload: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rootDir = "root_dir", host, port
        case maxBlockSize = "max_block_size", maxWindowSize = "max_window_size", mtuClamp = "mtu_clamp"
        case retransmitTimeoutMs = "retransmit_timeout_ms", maxRetransmitTimeoutMs = "max_retransmit_timeout_ms"
        case maxRetries = "max_retries", maxTransfers = "max_transfers", logLevel = "log_level"
        case drainTimeoutMs = "drain_timeout_ms", singlePort = "single_port", segmentationOffload = "segmentation_offload"
    }

    init() {}

    /// Reads a YAML file; the error message names the problem in one line.
    static func load(fromFile path: String) throws -> VolleySettings {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError("cannot read the file")
        }
        return try parse(yaml: text)
    }

    /// Parses YAML text (empty text gives all defaults).
    static func parse(yaml text: String) throws -> VolleySettings {
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw SettingsError("not valid YAML: \(error)".replacingOccurrences(of: "\n", with: " "))
        }
        guard let node else { return VolleySettings() }
        guard let mapping = node as? [String: Any] else { throw SettingsError("expected a mapping of settings at the top level") }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = mapping.keys.sorted().first(where: { !known.contains($0) }) {
            throw SettingsError("unknown key \"\(unknown)\" (known keys: \(known.sorted().joined(separator: ", ")))")
        }
        do {
            return try YAMLDecoder().decode(VolleySettings.self, from: text)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SettingsError("\(key): expected \(type == String.self ? "a string" : type == Bool.self ? "true or false" : "a number")")
        } catch {
            throw SettingsError("\(error)")
        }
    }

    /// Overrides the file's values with the flags that were given.
    mutating func apply(_ flags: ServeCommand) {
        if let value = flags.root { rootDir = value }
        if let value = flags.host { host = value }
        if let value = flags.port { port = value }
        if let value = flags.maxBlockSize { maxBlockSize = value }
        if let value = flags.maxWindowSize { maxWindowSize = value }
        if let value = flags.mtuClamp { mtuClamp = value }
        if let value = flags.retransmitTimeout { retransmitTimeoutMs = value }
        if let value = flags.maxRetries { maxRetries = value }
        if let value = flags.maxTransfers { maxTransfers = value }
        if let value = flags.logLevel { logLevel = value }
        if let value = flags.drainTimeout { drainTimeoutMs = value }
        if let value = flags.singlePort { singlePort = value }
        if let value = flags.segmentationOffload { segmentationOffload = value }
    }

    /// The server configuration these settings describe.
    var serverConfiguration: TFTPServerConfiguration {
        var configuration = TFTPServerConfiguration()
        if let rootDir { configuration.rootDirectory = rootDir }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let maxBlockSize { configuration.maximumBlockSize = maxBlockSize }
        if let maxWindowSize { configuration.maximumWindowSize = maxWindowSize }
        if let mtuClamp { configuration.clampBlockSizeToInterfaceMTU = mtuClamp }
        if let retransmitTimeoutMs {
            configuration.retransmitTimeoutMilliseconds = retransmitTimeoutMs
            configuration.maximumRetransmitTimeoutMilliseconds = max(configuration.maximumRetransmitTimeoutMilliseconds, retransmitTimeoutMs)
        }
        if let maxRetransmitTimeoutMs { configuration.maximumRetransmitTimeoutMilliseconds = maxRetransmitTimeoutMs }
        if let maxRetries { configuration.maximumRetransmissions = maxRetries }
        if let maxTransfers { configuration.maximumTransfers = maxTransfers }
        if let singlePort { configuration.singlePort = singlePort }
        if let segmentationOffload { configuration.segmentationOffload = segmentationOffload }
        return configuration
    }

    /// The log level, defaulting to info.
    func parsedLogLevel() throws -> Logger.Level {
        guard let logLevel else { return .info }
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw SettingsError("log level \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }
}

/// A configuration problem, told in one line.
struct SettingsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
