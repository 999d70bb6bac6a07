//! Arbitrary bytes as one MPTCP option and as an option body (see
//! `mptfo_proto::fuzzing::mptcp_option`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mptfo_proto::fuzzing::mptcp_option(data);
});
