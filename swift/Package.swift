// swift-tools-version:5.9
// KohakuVault for Swift: a facade (`KohakuVault`) over the uniffi-generated bindings
// (`KohakuVaultCore` + the C module `kohakuvaultFFI`), which are build outputs written by
// `scripts/test-swift.sh` (via `bindings/generate.sh swift`). The Rust library
// `libkohakuvault.so` is linked at build time: pass its directory on the command line, e.g.
//   swift build -Xlinker -L/abs/target/release -Xlinker -rpath -Xlinker /abs/target/release
import PackageDescription

let package = Package(
    name: "KohakuVault",
    products: [
        .library(name: "KohakuVault", targets: ["KohakuVault"]),
        .library(name: "KohakuVaultCore", targets: ["KohakuVaultCore"]),
    ],
    targets: [
        // C declarations of the Rust library's FFI (generated header + module.modulemap in include/).
        .target(
            name: "kohakuvaultFFI",
            path: "Sources/kohakuvaultFFI",
            linkerSettings: [.linkedLibrary("kohakuvault")]
        ),
        // The uniffi-generated Swift (kohakuvault.swift). Never edit: regenerate.
        .target(
            name: "KohakuVaultCore",
            dependencies: ["kohakuvaultFFI"],
            path: "Sources/KohakuVaultCore"
        ),
        // The hand-written facade: KVault, PlainValue, KohakuVaultError, ...
        .target(
            name: "KohakuVault",
            dependencies: ["KohakuVaultCore"],
            path: "Sources/KohakuVault"
        ),
        .testTarget(
            name: "KohakuVaultTests",
            dependencies: ["KohakuVault", "KohakuVaultCore"],
            path: "Tests/KohakuVaultTests"
        ),
    ]
)
