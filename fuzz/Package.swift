// swift-tools-version: 6.1
// libFuzzer harnesses for TFTPProtocol. A separate package on purpose: an executable target without `main`
// only links with -sanitize=fuzzer (libFuzzer supplies `main`), so it would break a plain `swift build` of the root package.
// Build and run them with ./run (see README.md).
import PackageDescription

let fuzzers = ["PacketDecoderFuzzer", "NegotiationFuzzer", "TransferFuzzer", "NetasciiFuzzer"]

let package = Package(
    name: "VolleyFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Volley", path: ".."),
    ],
    targets: [
        // Reads typed values from the fuzzer's bytes; running out yields zeros, never a trap.
        .target(name: "FuzzSupport"),
    ] + fuzzers.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "TFTPProtocol", package: "Volley")]
        )
    },
    swiftLanguageModes: [.v6]
)
