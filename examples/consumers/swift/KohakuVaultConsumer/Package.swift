// swift-tools-version:5.9
// A tiny separate package that uses KohakuVault the way an app would: a dependency on the
// package in <repo>/swift by path, and nothing else (no flags, no generated files, no pre-step).
// It lives in examples/consumers/swift/KohakuVaultConsumer/, not directly in .../swift/: SwiftPM
// names a package after its directory, and two packages both called "swift" clash.
//
//   swift build && swift run          # or: scripts/test-consumer-swift.sh
import PackageDescription

let package = Package(
    name: "KohakuVaultConsumer",
    platforms: [.macOS(.v10_15)],
    dependencies: [
        .package(name: "KohakuVault", path: "../../../../swift"),
    ],
    targets: [
        .executableTarget(
            name: "KohakuVaultConsumer",
            dependencies: [.product(name: "KohakuVault", package: "KohakuVault")],
            path: "Sources/KohakuVaultConsumer"
        ),
    ]
)
