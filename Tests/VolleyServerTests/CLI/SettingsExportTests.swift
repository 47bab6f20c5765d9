import Foundation
import Testing
import VolleyConfiguration

/// `volley settings --json`: the settings table as programs read it (the Jumpstarter driver).
@Suite("CLI: volley settings --json")
struct SettingsExportTests {
    @Test("every setting of the table, with its type, typed default, range and whether rules may set it")
    func exportMatchesTheTable() async throws {
        let result = try await runProcess(try VolleyBinaries.volley(), arguments: ["settings", "--json"], timeout: 30)
        #expect(result.status == 0, "\(result)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(entries.compactMap { $0["key"] as? String } == SettingsTable.all.map(\.key))
        let byKey = Dictionary(uniqueKeysWithValues: entries.map { ($0["key"] as! String, $0) })

        let block = try #require(byKey["max_block_size"])
        #expect(block["type"] as? String == "integer")
        #expect(block["default"] as? Int == 65464)
        #expect(block["minimum"] as? Int == 8 && block["maximum"] as? Int == 65464)
        #expect(block["flag"] as? String == "--max-block-size")
        #expect(block["rule_option"] as? Bool == true)

        let singlePort = try #require(byKey["single_port"])
        #expect(singlePort["type"] as? String == "boolean")
        #expect(singlePort["default"] as? Bool == false)
        #expect(singlePort["minimum"] == nil)
        #expect(singlePort["rule_option"] as? Bool == false)

        let host = try #require(byKey["host"])
        #expect(host["default"] as? String == "" && host["default_text"] as? String == "auto-detect")
        #expect(byKey["cache_max_bytes"]?["flag"] == nil, "a YAML-only key has no flag")
        #expect(!result.stdout.contains("\\/"), "slashes are not escaped")
    }

    @Test("--json and --yaml together are refused")
    func jsonAndYamlAreExclusive() async throws {
        let result = try await runProcess(try VolleyBinaries.volley(), arguments: ["settings", "--json", "--yaml"], timeout: 30)
        #expect(result.status != 0 && result.stderr.contains("--yaml and --json"), "\(result)")
    }
}
