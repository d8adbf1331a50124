//! The seed workload as a benchmark: register D dogs, add T tricks to each, then read every
//! dog's tricks, on the store the environment selects (`bench_support/seed.rs`).
//!
//! `cargo run --release -p eventsourcing-benchmarks --example training_school_bench -- --dogs 1000 --tricks 10`
//! The last line is `commands=<D*(T+2)> seconds=<wall seconds>`; the line before it gives the
//! requests sent to the database (DynamoDB only).
//!
//! Built as this library recommends for production services: with a global allocator made
//! for many small short-lived allocations (mimalloc). Every event allocates a few small
//! buffers, and glibc's malloc and free took a quarter of the in-memory command path.
//! `training_school_bench_malloc` is the same on the system allocator.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "bench_support/mod.rs"]
mod bench_support;
#[path = "bench_support/seed.rs"]
mod seed;

#[tokio::main]
async fn main() -> eventsourcing_dynamodb::Result<()> {
    seed::run().await
}
