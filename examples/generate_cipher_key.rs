//! Prints a fresh key for `CIPHER_KEY`: 32 random bytes (AES-256), base64-encoded, as Python
//! eventsourcing's `AESCipher.create_key(32)` makes them.
//!
//! ```sh
//! export CIPHER_TOPIC=eventsourcing.cipher:AESCipher
//! export CIPHER_KEY=$(cargo run --quiet --example generate_cipher_key)
//! ```

fn main() {
    println!("{}", eventsourcing_dynamodb::persistence::generate_cipher_key());
}
