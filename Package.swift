// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Volley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "volley", targets: ["volley"]),
        .library(name: "VolleyServer", targets: ["VolleyServer"]),
        .library(name: "TFTPProtocol", targets: ["TFTPProtocol"]),
        .executable(name: "volley-loadgen", targets: ["volley-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Layer 0: the only place that talks to C (epoll, mmsg, preadv, openat2, sd-daemon).
        .systemLibrary(
            name: "CEpoll",
            path: "CShims/CEpoll",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev", "pkg-config"])]
        ),
        // Layer 1: one-thread epoll reactor, timers, batched datagram I/O. Knows nothing of TFTP.
        .target(name: "VolleyReactor", dependencies: ["CEpoll"]),
        // Layer 2: TFTP packets, option negotiation, netascii, sender state machine. No syscalls.
        .target(name: "TFTPProtocol"),
        // Layer 3: the server: sockets, transfer table, confined files, public TFTPServer API.
        .target(
            name: "VolleyServer",
            dependencies: [
                "CEpoll", "VolleyReactor", "TFTPProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Layer 4: the command line.
        .executableTarget(
            name: "volley",
            dependencies: [
                "VolleyServer", "VolleyReactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The benchmark's load generator: many boot clients on our own reactor, verifying every byte.
        .executableTarget(
            name: "volley-loadgen",
            dependencies: [
                "VolleyReactor", "TFTPProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "benchmarks/loadgen",
            exclude: ["README.md"]
        ),
        // Test-only helpers shared by the test targets (never part of a product).
        .target(name: "VolleyTestSupport", path: "Tests/VolleyTestSupport"),
        .testTarget(name: "TFTPProtocolTests", dependencies: ["TFTPProtocol", "VolleyTestSupport"]),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["volley-loadgen", "TFTPProtocol"]),
        .testTarget(name: "VolleyReactorTests", dependencies: ["VolleyReactor", "CEpoll", "VolleyTestSupport"]),
        .testTarget(
            name: "VolleyServerTests",
            dependencies: ["VolleyServer", "VolleyReactor", "TFTPProtocol", "CEpoll", "VolleyTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
