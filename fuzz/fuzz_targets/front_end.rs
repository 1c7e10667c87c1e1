//! Any text: the front end reports or compiles, never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Ok(c) = wardgate_policy::compile_str("fuzz.policy", text) {
        let _ = c.policy.matrix().to_table();
    }
});
