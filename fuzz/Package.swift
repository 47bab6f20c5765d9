// swift-tools-version: 6.1
// libFuzzer harnesses for Volley. A separate package on purpose: an executable target without `main`
// only links with -sanitize=fuzzer (libFuzzer supplies `main`), so it would break a plain `swift build` of the root package.
// Build and run them with ./run (see README.md).
import PackageDescription

/// The protocol core's fuzzers: TFTPProtocol only (quick to build).
let protocolFuzzers = ["PacketDecoderFuzzer", "NegotiationFuzzer", "TransferFuzzer", "NetasciiFuzzer"]

let package = Package(
    name: "VolleyFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Volley", path: ".."),
        // The same Yams the root package uses: ConfigurationFuzzer reads each document with it to predict the outcome.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Reads typed values from the fuzzer's bytes; running out yields zeros, never a trap.
        .target(name: "FuzzSupport"),
        // Scratch directory trees (/tmp, /dev/shm) for the file-name fuzzers: build, snapshot, remove.
        .target(name: "FileFixtures"),
        // Client file names through RelativePath.parse and ConfinedRoot.openForReading (@_spi(Fuzzing) of VolleyServer).
        .executableTarget(
            name: "PathFuzzer",
            dependencies: ["FuzzSupport", "FileFixtures", .product(name: "VolleyServer", package: "Volley")]
        ),
        // API names through RootDirectoryStore.putFile/deleteFile in a scratch root; nothing outside it may change.
        .executableTarget(
            name: "StoreFuzzer",
            dependencies: ["FuzzSupport", "FileFixtures", .product(name: "VolleyServer", package: "Volley")]
        ),
        // volley.yaml text through SettingsFile.parse and TFTPServerConfiguration.validationError.
        .executableTarget(
            name: "ConfigurationFuzzer",
            dependencies: [
                "FuzzSupport",
                .product(name: "VolleyConfiguration", package: "Volley"),
                .product(name: "VolleyServer", package: "Volley"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ]
        + protocolFuzzers.map { name in
            .executableTarget(
                name: name,
                dependencies: ["FuzzSupport", .product(name: "TFTPProtocol", package: "Volley")]
            )
        },
    swiftLanguageModes: [.v6]
)
