//! Compile-time diagnostics of `#[aggregate]` and `#[event]`: each file under `ui/fail`
//! makes one mistake and its `.stderr` shows the error at the mistake's span; the files
//! under `ui/pass` compile and run.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
