// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Volley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "volley", targets: ["volley"]),
        .library(name: "VolleyServer", targets: ["VolleyServer"]),
        .library(name: "TFTPProtocol", targets: ["TFTPProtocol"]),
        .library(name: "VolleyConfiguration", targets: ["VolleyConfiguration"]),
        .executable(name: "volley-loadgen", targets: ["volley-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The control plane (`volley serve --control-listen`, `volley files`, `volley status`).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already in the graph through Hummingbird and AsyncHTTPClient; the control plane's
        // `Expect: 100-continue` handler names its HTTP part types.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // The HTTP file server: HTTP/1.1 and sendfile on NIO's own threads.
        .package(url: "https://github.com/apple/swift-nio", from: "2.90.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Layer 0: the only place that talks to C (epoll, mmsg, preadv, openat2, sd-daemon, SHA-256).
        .systemLibrary(
            name: "CEpoll",
            path: "CShims/CEpoll",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev", "liburing-dev", "libssl-dev", "pkg-config"])]
        ),
        // Layer 1: every system call of the project: owning descriptors, typed errno, epoll,
        // sockets and batched datagram I/O, confined file access, threads, systemd.
        .target(
            name: "VolleySystem",
            dependencies: ["CEpoll", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Layer 2: one-thread epoll reactor, timers, cross-thread inbox. Knows nothing of TFTP.
        .target(name: "VolleyReactor", dependencies: ["VolleySystem"]),
        // Layer 3: TFTP packets, option negotiation, netascii, sender state machine. No syscalls.
        .target(name: "TFTPProtocol"),
        // Layer 4: the server: listeners, admission, transfers, events, files; public TFTPServer API.
        .target(
            name: "VolleyServer",
            dependencies: [
                "VolleySystem", "VolleyReactor", "TFTPProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The settings of `volley serve`, defined once: YAML keys, flags, defaults, help.
        .target(
            name: "VolleyConfiguration",
            dependencies: [
                "VolleyServer", "VolleySystem", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Layer 5: the HTTP control plane of a running server: the API in `openapi.yaml`
        // (served through the protocol generated from it ahead of time into Generated/ by
        // scripts/generate-openapi), metrics, sessions. Never on the reactor thread.
        .target(
            name: "VolleyControl",
            dependencies: [
                "VolleyServer", "VolleySystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["openapi.yaml", "openapi-generator-config.yaml", "Generated/openapi.sha256"],
            // The live page at `/`, compiled into the binary (`PackageResources.index_html` …).
            resources: [
                .embedInCode("LivePage/index.html"), .embedInCode("LivePage/live.js"), .embedInCode("LivePage/live.css"),
                .embedInCode("LivePage/icon.svg"),
            ]
        ),
        // Layer 5, beside the control plane: the boot files over HTTP, resolved as TFTP resolves them.
        .target(
            name: "VolleyHTTP",
            dependencies: [
                "VolleyServer", "VolleySystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Layer 5: the command line.
        .executableTarget(
            name: "volley",
            dependencies: [
                "VolleyServer", "VolleySystem", "VolleyConfiguration", "VolleyControl", "VolleyHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmark's load generator: many boot clients on our own reactor, verifying every byte.
        .executableTarget(
            name: "volley-loadgen",
            dependencies: [
                "VolleySystem", "VolleyReactor", "TFTPProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "benchmarks/loadgen",
            exclude: ["README.md"]
        ),
        // Test-only helpers shared by the test targets (never part of a product).
        .target(name: "VolleyTestSupport", path: "Tests/VolleyTestSupport"),
        .testTarget(name: "TFTPProtocolTests", dependencies: ["TFTPProtocol", "VolleyTestSupport"]),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["volley-loadgen", "TFTPProtocol"]),
        .target(name: "VolleySystemTestSupport", dependencies: ["VolleySystem"], path: "Tests/VolleySystemTestSupport"),
        .testTarget(
            name: "VolleySystemTests",
            dependencies: [
                "VolleySystem", "CEpoll", "VolleyTestSupport", "VolleySystemTestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "VolleyReactorTests",
            dependencies: [
                "VolleyReactor", "VolleySystem", "VolleyTestSupport", "VolleySystemTestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "VolleyServerTests",
            dependencies: [
                "VolleyServer", "VolleySystem", "VolleyReactor", "TFTPProtocol", "VolleyTestSupport", "VolleyConfiguration",
                .product(name: "Logging", package: "swift-log"), .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
