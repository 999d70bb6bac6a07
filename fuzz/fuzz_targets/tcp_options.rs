//! Arbitrary bytes as a TCP header's option area (see
//! `mptfo_proto::fuzzing::tcp_options`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mptfo_proto::fuzzing::tcp_options(data);
});
