import Logging
import VolleyServer

/// Everything `volley serve` is configured with: the server's configuration plus the
/// settings of the program itself (logging). Filled from the defaults, then the YAML
/// file, then the flags; see ``SettingsTable`` for every key.
struct VolleySettings: Sendable, Equatable {
    /// The server's settings.
    var server = TFTPServerConfiguration()
    /// `trace` … `critical`.
    var logLevel = "info"
    /// `text` or `json`.
    var logFormat = "text"

    /// The log level, checked.
    func parsedLogLevel() throws(SettingsError) -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw SettingsError("log level \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }

    /// The log format, checked.
    func parsedLogFormat() throws(SettingsError) -> LogFormat {
        guard let format = LogFormat(rawValue: logFormat.lowercased()) else {
            throw SettingsError("log format \"\(logFormat)\" is not one of text, json")
        }
        return format
    }

    /// Forwards to the retransmit timeout, raising the backoff ceiling when it would be lower.
    var retransmitTimeout: Int {
        get { server.retransmitTimeoutMilliseconds }
        set {
            server.retransmitTimeoutMilliseconds = newValue
            server.maximumRetransmitTimeoutMilliseconds = max(server.maximumRetransmitTimeoutMilliseconds, newValue)
        }
    }
}
