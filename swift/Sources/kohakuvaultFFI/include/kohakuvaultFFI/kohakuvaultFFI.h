// Hand-written umbrella header of the C module `kohakuvaultFFI` (not generated; keep it tiny).
// The declarations of the Rust library's FFI are uniffi's generated header, a build output: the
// package's build-tool plugin (Plugins/KohakuVaultBindings, running Scripts/generate-core.sh)
// writes it to <repo>/target/swift-ffi/ before anything is compiled. The path is relative to this
// file: swift/Sources/kohakuvaultFFI/include/kohakuvaultFFI/ -> <repo>/target/swift-ffi/.
#include "../../../../../target/swift-ffi/kohakuvaultFFI.h"
