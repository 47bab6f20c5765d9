// swift-tools-version: 6.1
// Builds only swift-openapi-generator's command-line tool, for scripts/generate-openapi.
// The Volley package itself does not depend on the generator: its generated sources are
// committed (Sources/VolleyControl/Generated), so no build compiles the generator.
import PackageDescription

let package = Package(
    name: "VolleyOpenAPIGenerator",
    dependencies: [
        // The exact version whose output is committed; scripts/generate-openapi prints it in the stamp.
        .package(url: "https://github.com/apple/swift-openapi-generator", exact: "1.14.3")
    ],
    targets: []
)
