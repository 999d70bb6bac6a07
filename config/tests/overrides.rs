//! Command-line overrides (`Overrides`, `Config::set`) and merging.

use mptfo_config::*;

const FILE: &str = r#"
cores = [0, 1]

[[port]]
name = "s1"
vdev = "net_af_packet0,iface=s1"
addresses = ["10.0.1.2/24"]

[mptcp]
reply_timing = "hold"

[[mptcp.endpoint]]
address = "10.0.1.2"
flags = ["subflow"]

[serve]
listen_port = 8080
"#;

#[test]
fn overrides_replace_file_values() {
    let o = Overrides::new()
        .with("mptcp.reply_timing", "early")
        .with("serve.listen_port", "9000")
        .with("tcp.mss", "1400");
    let c = Config::from_str_with(FILE, &o).unwrap();
    assert_eq!(c.mptcp.reply_timing, ReplyTiming::Early);
    assert_eq!(c.serve.as_ref().unwrap().listen_port, 9000);
    assert_eq!(c.tcp.mss, Some(1400));
    assert_eq!(c.mss(), 1400);
    // Everything else as in the file.
    assert_eq!(c.ports[0].name, "s1");
    assert_eq!(c.cores.as_slice(), &[0, 1]);
}

#[test]
fn later_overrides_win() {
    let mut o = Overrides::new();
    o.set("tcp.sack", "false").set("tcp.sack", "true");
    assert_eq!(o.iter().count(), 2);
    assert!(Config::from_str_with(FILE, &o).unwrap().tcp.sack);
}

#[test]
fn values_are_read_as_the_type_expected_there() {
    let mut c = Config::from_str(FILE).unwrap();
    c.set("cores", "0-1").unwrap();
    assert_eq!(c.cores.as_slice(), &[0, 1]);
    c.set("cores", "1").unwrap();
    assert_eq!(c.cores.as_slice(), &[1]);
    c.set("cores", "[0, 1]").unwrap();
    assert_eq!(c.cores.as_slice(), &[0, 1]);
    c.set("mptcp.reply_timing", "\"early\"").unwrap();
    assert_eq!(c.mptcp.reply_timing, ReplyTiming::Early);
    c.set("port[0].name", "1234").unwrap();
    assert_eq!(c.ports[0].name, "1234");
    c.set("port[0].addresses", "10.0.1.2/24, fd00::5/64")
        .unwrap();
    assert_eq!(c.ports[0].addresses.len(), 2);
    c.set("port[0].addresses", "[\"10.0.1.2/24\"]").unwrap();
    assert_eq!(c.ports[0].addresses[0].to_string(), "10.0.1.2/24");
    c.set("mptcp.endpoint[0].flags", "subflow,backup").unwrap();
    assert_eq!(
        c.mptcp.endpoints[0].flags,
        [EndpointFlag::Subflow, EndpointFlag::Backup]
    );
    c.set("eal.args", "-l 0-1 --no-huge -m 512").unwrap();
    assert_eq!(c.eal.args, ["-l", "0-1", "--no-huge", "-m", "512"]);
    c.set("tfo.server.key", "03020100-07060504-0b0a0908-0f0e0d0c")
        .unwrap();
    assert_eq!(
        c.tfo.server.key.unwrap().to_string(),
        "000102030405060708090a0b0c0d0e0f"
    );
    c.set("serve.duration_s", "0.5").unwrap();
    assert_eq!(c.serve.as_ref().unwrap().duration_s, Some(0.5));
}

#[test]
fn overrides_create_sections_and_append_tables() {
    let mut c = Config::from_str(FILE).unwrap();
    c.set("loadgen.target", "10.0.1.9:8080").unwrap();
    assert_eq!(
        c.loadgen.as_ref().unwrap().target.to_string(),
        "10.0.1.9:8080"
    );
    let mut o = Overrides::new();
    o.set("port[1].vdev", "net_af_packet1,iface=s2")
        .set("port[1].addresses", "10.0.2.2/24")
        .set("mptcp.endpoint[1].address", "10.0.2.2")
        .set("mptcp.endpoint[1].flags", "signal");
    c.apply(&o).unwrap();
    assert_eq!(c.ports.len(), 2);
    assert_eq!(c.ports[1].name, "port1");
    assert!(c.mptcp.endpoints[1].has(EndpointFlag::Signal));
}

#[test]
fn override_errors_name_the_path_and_value() {
    let o = Overrides::new().with("mptcp.reply_timing", "fast");
    let e = Config::from_str_with(FILE, &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    // No location: the value came from the command line.
    assert_eq!(
        e.to_string(),
        "config error: mptcp.reply_timing = \"fast\": expected \"hold\" or \"early\""
    );
    let mut c = Config::from_str(FILE).unwrap();
    assert_eq!(
        c.set("mptcp.limits.subflows", "12")
            .unwrap_err()
            .to_string(),
        "config error: mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"
    );
    assert_eq!(
        c.set("tcp.nagle", "false").unwrap_err().message(),
        "tcp.nagle: unknown key: expected one of mss, recv_window, window_shift, send_buffer, timestamps, sack, \
         congestion, min_rto_ms, max_rto_ms, initial_rto_ms, syn_retries, synack_retries, data_retries, \
         delayed_ack_ms, time_wait_ms"
    );
    assert_eq!(
        c.set("tcp.sack", "yes").unwrap_err().message(),
        "tcp.sack = \"yes\": expected true or false"
    );
    assert_eq!(
        c.set("tcp.mss", "1500").unwrap_err().message(),
        "tcp.mss = 1500: expected at most 1460 (port[0]'s MTU 1500 minus 40 bytes of IP and TCP headers)"
    );
    c.set("loadgen.target", "10.0.1.9:8080").unwrap();
    c.set("loadgen.connections", "4").unwrap();
    let e = c.set("loadgen.rate", "1000").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.message(),
        "loadgen: both connections and rate are set: expected one of them"
    );
}

#[test]
fn a_failed_override_leaves_the_config_unchanged() {
    let mut c = Config::from_str(FILE).unwrap();
    let before = c.clone();
    assert!(c.set("mptcp.limits.subflows", "12").is_err());
    let o = Overrides::new()
        .with("tcp.mss", "1400")
        .with("tcp.sack", "maybe");
    assert!(c.apply(&o).is_err());
    assert_eq!(c, before);
}

#[test]
fn bad_override_paths() {
    let mut c = Config::from_str(FILE).unwrap();
    let msg = |c: &mut Config, p: &str| {
        let e = c.set(p, "1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadOverride, "{e}");
        e.message().to_string()
    };
    assert_eq!(
        msg(&mut c, "mptcp..limits"),
        "override \"mptcp..limits\": expected a dotted key path such as mptcp.limits.subflows or port[0].mtu"
    );
    assert_eq!(
        msg(&mut c, "port[x].mtu"),
        "override \"port[x].mtu\": expected a dotted key path such as mptcp.limits.subflows or port[0].mtu"
    );
    assert_eq!(
        msg(&mut c, "port[5].mtu"),
        "override port[5].mtu: port has 1 element: expected an index below 1 (or equal to it, to append a table)"
    );
    assert_eq!(
        msg(&mut c, "port[1]"),
        "override port[1]: port has 1 element: expected an index below 1"
    );
    assert_eq!(
        msg(&mut c, "tcp.sack.x"),
        "override tcp.sack.x: tcp.sack is a boolean, not a table"
    );
    assert_eq!(
        msg(&mut c, "cores[0].x"),
        "override cores[0].x: cores[0] is an integer, not a table"
    );
    assert_eq!(
        msg(&mut c, "tcp[0]"),
        "override tcp[0]: tcp is a table, not an array"
    );
}

#[test]
fn assignments() {
    let mut o = Overrides::new();
    o.push_assignment("mptcp.reply_timing=early").unwrap();
    o.push_assignment(" tcp.mss = 1400 ").unwrap();
    let c = Config::from_str_with(FILE, &o).unwrap();
    assert_eq!(c.mptcp.reply_timing, ReplyTiming::Early);
    assert_eq!(c.tcp.mss, Some(1400));
    let e = o.push_assignment("mptcp.reply_timing").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadOverride);
    assert_eq!(
        e.message(),
        "override \"mptcp.reply_timing\": expected PATH=VALUE, such as mptcp.reply_timing=early"
    );
    assert!(o.push_assignment("=3").is_err());
}

#[test]
fn merging_a_fragment() {
    let mut c = Config::from_str(FILE).unwrap();
    c.merge_str("[mptcp]\nreply_timing = \"early\"\n[mptcp.limits]\nsubflows = 4\n")
        .unwrap();
    assert_eq!(c.mptcp.reply_timing, ReplyTiming::Early);
    assert_eq!(c.mptcp.limits.subflows, 4);
    // Tables merge key by key: the endpoint is still there.
    assert_eq!(c.mptcp.endpoints.len(), 1);
    // Arrays of tables are replaced whole.
    c.merge_str("[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.1.2/24\"]\n")
        .unwrap();
    assert_eq!(c.ports.len(), 1);
    assert_eq!(c.ports[0].vdev.as_deref(), Some("net_ring0"));
    // Errors point into the fragment.
    let e = c.merge_str("\n[tcp]\nmss = 1\n").unwrap_err();
    assert_eq!(
        e.message(),
        "tcp.mss = 1: expected an integer from 88 to 9176"
    );
    let loc = e.diagnostics()[0].location().unwrap();
    assert_eq!((loc.line, loc.column), (3, 7));
}

#[test]
fn configs_built_in_code_validate_the_same_way() {
    let mut c = Config::default();
    c.ports.push(PortConfig::vdev(
        "s1",
        "net_ring0",
        vec!["10.0.1.2/24".parse().unwrap()],
    ));
    c.mptcp.limits.subflows = 12;
    c.ports[0].mtu = 100;
    let e = c.validate().unwrap_err();
    assert_eq!(
        e.messages(),
        [
            "port[0].mtu = 100: expected an integer from 576 to 9216",
            "mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)",
        ]
    );
    c.mptcp.limits.subflows = 2;
    c.ports[0].mtu = 1500;
    assert!(c.validate().is_ok());
}
