//! Fuzzer-chosen policies and requests: the compiled component agrees with the reference.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wardgate_tests::fuzz::differential(data);
});
