//! Prints the collector's OpenAPI document (`cargo run -p collector --example openapi`).
fn main() {
    println!(
        "{}",
        collector::openapi::document()
            .to_pretty_json()
            .expect("the document serialises")
    );
}
