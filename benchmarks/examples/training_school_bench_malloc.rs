//! `training_school_bench` on the system allocator (glibc malloc here), to show what the
//! allocator is worth: same workload, flags and output.
//!
//! `cargo run --release -p eventsourcing-benchmarks --example training_school_bench_malloc -- --dogs 1000 --tricks 10`

#[path = "bench_support/mod.rs"]
mod bench_support;
#[path = "bench_support/seed.rs"]
mod seed;

#[tokio::main]
async fn main() -> eventsourcing_dynamodb::Result<()> {
    seed::run().await
}
