// The target `KohakuVaultCore` is uniffi's generated Swift for the Rust core. Its source is a build
// output, never written by hand and never committed: the build-tool plugin KohakuVaultBindings
// (Plugins/KohakuVaultBindings) generates it into SwiftPM's plugin output directory on every build
// (Scripts/generate-core.sh: `cargo build --release`, then the workspace's uniffi-bindgen in
// library mode). This file only gives SwiftPM a source directory for the target.
