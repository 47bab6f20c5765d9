import ArgumentParser
import VolleyConfiguration

/// `volley settings`: every YAML key with its flag, default and meaning.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every setting: YAML key, flag, default and meaning.",
        discussion: "The YAML keys go in the file given to `volley serve --config`; the flags override the file."
    )

    @Flag(name: .long, help: "Print the list as YAML with every key at its default, each explained in a comment.")
    var yaml = false

    func run() {
        let defaults = VolleySettings()
        for setting in SettingsTable.all {
            if yaml {
                print("# \(setting.meaning)")
                print("\(setting.key): \(setting.yamlText(of: defaults))\n")
            } else {
                let flag = setting.flag.map { setting.kind == .boolean ? "--[no-]\($0)" : "--\($0)" } ?? "(YAML only)"
                print("\(setting.key)  \(flag)  default: \(setting.defaultText)\n    \(setting.meaning)")
            }
        }
    }
}
