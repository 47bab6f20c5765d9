import VolleyConfiguration

/// The settings that differ from the defaults, in one line after the serving line (which
/// already names the root, the address and the port).
struct StartupSummary: CustomStringConvertible {
    let description: String

    init(_ settings: VolleySettings) {
        let defaults = VolleySettings()
        let shownElsewhere: Set<String> = [SettingsTable.rootDirectory.key, SettingsTable.host.key, SettingsTable.port.key]
        let changed = SettingsTable.all
            .filter { !shownElsewhere.contains($0.key) && $0.current(settings) != $0.current(defaults) }
            .map { "\($0.key)=\($0.yamlText(of: settings))" }
        description =
            changed.isEmpty
            ? "all other settings are the defaults"
            : "settings that differ from the defaults: " + changed.joined(separator: " ")
    }
}
