import Logging
import VolleyServer

/// Everything `volley serve` is configured with: the server's configuration plus the
/// settings of the program itself (logging). Filled from the defaults, then the YAML
/// file, then the flags; see ``SettingsTable`` for every key.
public struct VolleySettings: Sendable, Equatable {
    /// The server's settings.
    public var server = TFTPServerConfiguration()
    /// `trace` … `critical`.
    public var logLevel = "info"
    /// `text` or `json`.
    public var logFormat = "text"
    /// The user to run as after start-up; empty: stay as started.
    public var user = ""
    /// The HTTP control plane (off unless `control_listen` is set).
    public var control = ControlSettings()
    /// The HTTP file server (off unless `http_listen` is set).
    public var http = HTTPSettings()
    /// The remote origin (off unless `origin` is set).
    public var origin = OriginSettings()

    /// The log level, checked.
    public func parsedLogLevel() throws(SettingsError) -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw SettingsError(
                "log level \(SettingsFile.quoted(logLevel)) is not one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }

    /// Settings at their defaults.
    public init() {}

    /// The log format, checked.
    public func parsedLogFormat() throws(SettingsError) -> LogFormat {
        guard let format = LogFormat(rawValue: logFormat.lowercased()) else {
            throw SettingsError("log format \(SettingsFile.quoted(logFormat)) is not one of text, json")
        }
        return format
    }

    /// Forwards to the retransmit timeout, raising the backoff ceiling when it would be lower.
    public var retransmitTimeout: Int {
        get { server.retransmitTimeoutMilliseconds }
        set {
            server.retransmitTimeoutMilliseconds = newValue
            server.maximumRetransmitTimeoutMilliseconds = max(server.maximumRetransmitTimeoutMilliseconds, newValue)
        }
    }
}

/// How log lines are written.
public enum LogFormat: String, Sendable {
    /// `2026-12-01T03:35:50.123Z info volley: message`.
    case text
    /// One JSON object per line: `{"time":…,"level":…,"label":…,"message":…, metadata…}`.
    case json
}
