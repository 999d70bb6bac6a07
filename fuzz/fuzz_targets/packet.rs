//! One received Ethernet frame: classify, re-emit every header, parse the
//! TCP options (see `mptfo_proto::fuzzing::packet`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mptfo_proto::fuzzing::packet(data);
});
