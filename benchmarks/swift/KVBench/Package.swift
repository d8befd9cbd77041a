// swift-tools-version:5.9
// KohakuVault Swift benchmark (not a test): put_many / get_many of 10k x 256 B values.
// A package of its own in KVBench/: SwiftPM names a package after its directory, and the library's
// is "swift" (swift/), so this one must not live in a directory called swift.
// Run with `scripts/test-swift.sh --bench` (it generates the bindings and links the Rust library).
import PackageDescription

let package = Package(
    name: "KVBench",
    dependencies: [.package(path: "../../../swift")],
    targets: [
        .executableTarget(
            name: "KVBench",
            dependencies: [
                .product(name: "KohakuVault", package: "swift"),
                .product(name: "KohakuVaultCore", package: "swift"),
            ],
            path: "Sources/KVBench"
        ),
    ]
)
