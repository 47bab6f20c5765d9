import Logging
import Synchronization

/// A process-wide log level that SIGHUP can change after logging was bootstrapped.
final class ReloadableLogLevel: Sendable {
    private let raw = Atomic<Int>(Logger.Level.info.index)

    /// The level in force.
    var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(newValue.index, ordering: .relaxed) }
    }

    /// Installs a standard-error handler whose level follows this object.
    func bootstrap() {
        LoggingSystem.bootstrap { [self] label in
            ReloadableLevelHandler(base: StreamLogHandler.standardError(label: label), control: self)
        }
    }
}

private extension Logger.Level {
    var index: Int { Logger.Level.allCases.firstIndex(of: self)! }
}

/// A stream handler whose level is read from a ``ReloadableLogLevel``.
private struct ReloadableLevelHandler: LogHandler {
    var base: StreamLogHandler
    let control: ReloadableLogLevel

    var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        base.log(event: event)
    }
}
