#![no_main]
//! See `eventsourcing_dynamodb_fuzz::transcoding`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| eventsourcing_dynamodb_fuzz::transcoding(data));
