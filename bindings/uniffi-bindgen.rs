//! The workspace-built uniffi-bindgen: same uniffi version as the library, so checksums always agree.
fn main() {
    uniffi::uniffi_bindgen_main()
}
