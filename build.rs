fn main() {
    println!("cargo:rerun-if-changed=udl/kohakuvault.udl");
    uniffi::generate_scaffolding("udl/kohakuvault.udl")
        .expect("uniffi scaffolding from udl/kohakuvault.udl");
}
