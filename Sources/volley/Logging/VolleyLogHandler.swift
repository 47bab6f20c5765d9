import Foundation
import Logging
import Synchronization
import VolleyConfiguration
import VolleySystem

/// The configured level and format, shared by every logger of the process and changed by
/// a reload. A logger whose own level was set keeps it (see ``VolleyLogHandler``).
final class LogSettings: Sendable {
    private let state: Mutex<(level: Logger.Level, format: LogFormat)>

    init(level: Logger.Level, format: LogFormat) {
        state = Mutex((level, format))
    }

    var level: Logger.Level {
        get { state.withLock { $0.level } }
        set { state.withLock { $0.level = newValue } }
    }

    var format: LogFormat {
        get { state.withLock { $0.format } }
        set { state.withLock { $0.format = newValue } }
    }

    /// Makes every logger of the process write through ``VolleyLogHandler``.
    func bootstrap() {
        LoggingSystem.bootstrap { [self] label in VolleyLogHandler(label: label, settings: self) }
    }
}

/// Writes one line per message to standard error, unbuffered, in the configured format,
/// with millisecond timestamps.
///
/// Its level follows the process-wide ``LogSettings`` unless this logger's level was set:
/// `logger.logLevel = .debug` changes that logger only, as swift-log expects of a handler.
struct VolleyLogHandler: LogHandler {
    let label: String
    let settings: LogSettings
    private var ownLevel: Logger.Level?
    var metadata: Logger.Metadata = [:]

    init(label: String, settings: LogSettings) {
        self.label = label
        self.settings = settings
    }

    var logLevel: Logger.Level {
        get { ownLevel ?? settings.level }
        set { ownLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = WallClock.utcTimestamp()
        let line: String
        switch settings.format {
        case .text:
            // The messages already say what the metadata holds; the fields are for JSON.
            line = "\(time) \(event.level) \(label): \(event.message)"
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "label": label, "message": "\(event.message)"]
            for (key, value) in all where object[key] == nil { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        StandardError.write(Array((line + "\n").utf8))
    }

}
