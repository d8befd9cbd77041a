import Foundation
import PackagePlugin

/// Generates the uniffi bindings as part of every build: runs Scripts/generate-core.sh, which
/// builds the Rust core (incremental `cargo build --release`, a no-op when nothing changed),
/// writes the generated Swift into this plugin's output directory (compiled into the target) and
/// the generated C header to <repo>/target/swift-ffi/ (read by the `kohakuvaultFFI` module).
/// Outputs are rewritten only when their content changes, so builds stay incremental.
@main
struct KohakuVaultBindings: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectory.appending("generated")
        let script = context.package.directory.appending("Scripts", "generate-core.sh")
        return [
            .prebuildCommand(
                displayName: "KohakuVault: Rust core and uniffi bindings",
                executable: Path("/bin/bash"),
                arguments: [script.string, out.string],
                outputFilesDirectory: out
            ),
        ]
    }
}
