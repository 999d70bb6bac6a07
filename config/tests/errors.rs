//! Every kind of error, with its exact message.

use mptfo_config::{Config, ErrorKind};

/// A valid base: two workers, one af_packet port.
const BASE: &str = r#"
cores = [0, 1]

[[port]]
vdev = "net_af_packet0,iface=s1"
addresses = ["10.0.1.2/24"]
"#;

/// The messages of a text that must fail.
fn messages(text: &str) -> Vec<String> {
    match Config::from_str(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.messages().into_iter().map(String::from).collect(),
    }
}

/// The one message of a text that must fail with exactly one problem.
fn one(text: &str) -> String {
    let m = messages(text);
    assert_eq!(m.len(), 1, "expected one error, got {m:#?}");
    m.into_iter().next().unwrap()
}

/// The one message of BASE plus `more`.
fn with_base(more: &str) -> String {
    one(&format!("{BASE}\n{more}"))
}

fn kind(text: &str) -> ErrorKind {
    Config::from_str(text).unwrap_err().kind()
}

#[test]
fn the_briefs_examples() {
    assert_eq!(
        one("[mptcp.limits]\nsubflows = 12\n"),
        "mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"
    );
    assert_eq!(
        one("[tfo.server]\nkey = \"zz\"\n"),
        "tfo.server.key = \"zz\": expected 32 hex digits or four dash-separated 8-digit hex words"
    );
    assert_eq!(
        one(&format!(
            "{BASE}\n[[port]]\nvdev = \"net_af_packet1,iface=s2\"\naddresses = [\"10.0.1.300/24\"]\n"
        )),
        "port[1].addresses[0] = \"10.0.1.300/24\": expected an IPv4 or IPv6 address with a prefix length"
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.1:8080\"\nconnections = 4\nrate = 1000\n"),
        "loadgen: both connections and rate are set: expected one of them"
    );
    let e = Config::from_str("[mptcp.limits]\nsubflows = 12\n").unwrap_err();
    assert_eq!(
        e.to_string().lines().next().unwrap(),
        "config error: mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"
    );
}

// ---------------------------------------------------------------------------
// Unknown keys
// ---------------------------------------------------------------------------

#[test]
fn unknown_keys_name_the_path_and_the_valid_keys() {
    assert_eq!(
        one("[serv]\nlisten_port = 1\n"),
        "serv: unknown key: expected one of cores, eal, port, tcp, tfo, mptcp, serve, loadgen (did you mean serve?)"
    );
    assert_eq!(
        one("[mptcp]\nlimit = 3\n"),
        "mptcp.limit: unknown key: expected one of enabled, checksum, deny_join_id0, reply_timing, limits, endpoint (did you mean limits?)"
    );
    assert_eq!(
        one("[tcp]\nnagle = false\n"),
        "tcp.nagle: unknown key: expected one of mss, recv_window, window_shift, send_buffer, timestamps, sack, \
         congestion, min_rto_ms, max_rto_ms, initial_rto_ms, syn_retries, synack_retries, data_retries, \
         delayed_ack_ms, time_wait_ms"
    );
    assert_eq!(
        one("[tfo.client]\nenable = true\n"),
        "tfo.client.enable: unknown key: expected one of enabled, negative_cache_s (did you mean enabled?)"
    );
    assert_eq!(
        with_base("iface = \"s1\"\n"),
        "port[0].iface: unknown key: expected one of name, vdev, pci, addresses, mtu, neighbours, rx_queues, tx_queues"
    );
    assert_eq!(
        with_base("neighbors = []\n"),
        "port[0].neighbors: unknown key: expected one of name, vdev, pci, addresses, mtu, neighbours, rx_queues, \
         tx_queues (did you mean neighbours?)"
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.1.2\"\nflag = [\"signal\"]\n"),
        "mptcp.endpoint[0].flag: unknown key: expected one of address, id, flags (did you mean flags?)"
    );
    assert_eq!(
        one("[eal]\nhuge = false\n"),
        "eal.huge: unknown key: expected one of args, lcores, main_lcore, memory_mb, no_huge, in_memory, \
         no_shconf, file_prefix, vdevs"
    );
    assert_eq!(kind("[eal]\nhuge = false\n"), ErrorKind::UnknownKey);
}

// ---------------------------------------------------------------------------
// Syntax and I/O
// ---------------------------------------------------------------------------

#[test]
fn syntax_errors_keep_tomls_line_and_column() {
    let e = Config::from_str("[tcp]\nmss = = 1400\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert_eq!(
        e.to_string(),
        "config error: TOML parse error at line 2, column 7\n  |\n2 | mss = = 1400\n  |       ^\nextra `=`, expected nothing"
    );
    let e = Config::from_str("[tcp]\nsack = true\n[tcp]\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(
        e.message()
            .starts_with("TOML parse error at line 3, column 2"),
        "{e}"
    );
    assert!(e.message().ends_with("duplicate key"), "{e}");
}

#[test]
fn syntax_errors_in_a_file_name_it() {
    let dir = std::env::temp_dir().join(format!("mptfo-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("broken.toml");
    std::fs::write(&f, "cores = [0,\n").unwrap();
    let e = Config::from_file(&f).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(
        e.message().starts_with(&format!(
            "{}: TOML parse error at line 1, column 12",
            f.display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_files() {
    let e = Config::from_file("/nonexistent/mptfo.toml").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(
        e.message(),
        "cannot read /nonexistent/mptfo.toml: No such file or directory (os error 2)"
    );
}

// ---------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------

#[test]
fn errors_point_at_the_value() {
    let text = "[tcp]\nsack = true\n\n[mptcp.limits]\nsubflows = 12\n";
    let e = Config::from_str(text).unwrap_err();
    let loc = e.diagnostics()[0].location().unwrap();
    assert_eq!((loc.line, loc.column, loc.width), (5, 12, 2));
    assert_eq!(loc.line_text, "subflows = 12");
    assert_eq!(
        e.to_string(),
        "config error: mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)\n \
         --> line 5, column 12\n  |\n5 | subflows = 12\n  |            ^^"
    );
}

#[test]
fn errors_in_files_show_the_file() {
    let dir = std::env::temp_dir().join(format!("mptfo-config-loc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("serve.toml");
    let mut text = String::new();
    for _ in 0..9 {
        text.push_str("# comment\n");
    }
    text.push_str("[mptcp]\nreply_timing = \"fast\"\n");
    std::fs::write(&f, &text).unwrap();
    let e = Config::from_file(&f).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "config error: mptcp.reply_timing = \"fast\": expected \"hold\" or \"early\"\n  \
             --> {}:11:16\n   |\n11 | reply_timing = \"fast\"\n   |                ^^^^^^",
            f.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = "[tfo.server]\nkey = \"zz\"\n[mptcp]\nlimit = 1\nchecksum = \"no\"\n[mptcp.limits]\nsubflows = 9\n";
    assert_eq!(
        messages(text),
        [
            "tfo.server.key = \"zz\": expected 32 hex digits or four dash-separated 8-digit hex words",
            "mptcp.limit: unknown key: expected one of enabled, checksum, deny_join_id0, reply_timing, limits, \
             endpoint (did you mean limits?)",
            "mptcp.checksum = \"no\": expected true or false",
            "mptcp.limits.subflows = 9: expected an integer from 0 to 8 (Linux's limit)",
        ]
    );
}

// ---------------------------------------------------------------------------
// Values of the wrong type or out of range
// ---------------------------------------------------------------------------

#[test]
fn scalars() {
    assert_eq!(
        one("[tcp]\nmss = \"1400\"\n"),
        "tcp.mss = \"1400\": expected an integer from 88 to 9176"
    );
    assert_eq!(
        one("[tcp]\nmss = 1400.0\n"),
        "tcp.mss = 1400.0: expected an integer from 88 to 9176"
    );
    assert_eq!(
        one("[tcp]\nmss = 20\n"),
        "tcp.mss = 20: expected an integer from 88 to 9176"
    );
    assert_eq!(
        one("[tcp]\nwindow_shift = 15\n"),
        "tcp.window_shift = 15: expected an integer from 0 to 14 (RFC 7323)"
    );
    assert_eq!(
        one("[tcp]\nsack = 1\n"),
        "tcp.sack = 1: expected true or false"
    );
    assert_eq!(
        one("[tcp]\ncongestion = \"bbr\"\n"),
        "tcp.congestion = \"bbr\": expected \"cubic\" or \"newreno\""
    );
    assert_eq!(
        one("[tcp]\nsyn_retries = 0\n"),
        "tcp.syn_retries = 0: expected an integer from 1 to 127 (Linux's tcp_syn_retries range)"
    );
    assert_eq!(
        one("[tcp]\ndelayed_ack_ms = 600\n"),
        "tcp.delayed_ack_ms = 600: expected an integer from 0 to 500 (RFC 5681: at most 500 ms; 0 acknowledges at once)"
    );
    assert_eq!(
        one("[tcp]\nmax_rto_ms = 0x10\n"),
        "tcp.max_rto_ms = 0x10: expected an integer from 1000 to 120000 (Linux's TCP_RTO_MAX is 120000)"
    );
    assert_eq!(
        one("[tcp]\nrecv_window = 99999999999999999999999999999999999999999999\n"),
        "tcp.recv_window = 99999999999999999999999999999999999999999999: expected an integer from 1024 to 1073741824"
    );
    assert_eq!(
        one("[mptcp]\nreply_timing = \"fast\"\n"),
        "mptcp.reply_timing = \"fast\": expected \"hold\" or \"early\""
    );
    assert_eq!(
        one("[mptcp.limits]\nadd_addr_accepted = -1\n"),
        "mptcp.limits.add_addr_accepted = -1: expected an integer from 0 to 8 (Linux's limit)"
    );
    assert_eq!(
        one("[tfo.server]\nqueue_len = 0\n"),
        "tfo.server.queue_len = 0: expected an integer from 1 to 1048576"
    );
    assert_eq!(
        one("[tfo.client]\nnegative_cache_s = 1979-05-27\n"),
        "tfo.client.negative_cache_s = 1979-05-27: expected an integer from 0 to 86400"
    );
    assert_eq!(kind("[tcp]\nmss = 20\n"), ErrorKind::InvalidValue);
}

#[test]
fn tables_and_arrays_of_the_wrong_shape() {
    assert_eq!(
        one("tcp = 3\n"),
        "tcp = 3: expected a table ([tcp]) with keys mss, recv_window, window_shift, send_buffer, timestamps, \
         sack, congestion, min_rto_ms, max_rto_ms, initial_rto_ms, syn_retries, synack_retries, data_retries, \
         delayed_ack_ms, time_wait_ms"
    );
    assert_eq!(
        one("[port]\nvdev = \"net_ring0\"\n"),
        "port = { vdev = \"net_ring0\" }: expected an array of tables, written [[port]]"
    );
    assert_eq!(
        one("[mptcp]\nendpoint = \"10.0.1.2\"\n"),
        "mptcp.endpoint = \"10.0.1.2\": expected an array of tables, written [[mptcp.endpoint]]"
    );
    assert_eq!(
        with_base("neighbours = [\"10.0.1.1\"]\n"),
        "port[0].neighbours[0] = \"10.0.1.1\": expected a table with keys ip, mac"
    );
    assert_eq!(
        one("[tfo]\nserver = true\n"),
        "tfo.server = true: expected a table ([tfo.server]) with keys enabled, no_cookie, queue_len, key, backup_key"
    );
}

#[test]
fn cores() {
    assert_eq!(
        one("cores = [0, 0]\n"),
        "cores = [0, 0]: expected each core once (0 is listed twice)"
    );
    assert_eq!(
        one("cores = []\n"),
        "cores = []: expected at least one core"
    );
    assert_eq!(
        one("cores = \"1-0\"\n"),
        "cores = \"1-0\": expected a list of CPU numbers from 0 to 127, as [0, 1] or \"0-1\""
    );
    assert_eq!(
        one("cores = [0, 128]\n"),
        "cores = [0, 128]: expected a list of CPU numbers from 0 to 127, as [0, 1] or \"0-1\""
    );
    assert_eq!(
        one("cores = 2\n"),
        "cores = 2: expected a list of CPU numbers from 0 to 127, as [0, 1] or \"0-1\""
    );
    assert_eq!(
        one("[eal]\nmain_lcore = 200\n"),
        "eal.main_lcore = 200: expected an integer from 0 to 127 (DPDK's RTE_MAX_LCORE is 128)"
    );
}

#[test]
fn keys() {
    assert_eq!(
        one("[tfo.server]\nkey = \"00112233-44556677-8899aabb\"\n"),
        "tfo.server.key = \"00112233-44556677-8899aabb\": expected 32 hex digits or four dash-separated 8-digit hex words"
    );
    assert_eq!(
        one("[tfo.server]\nkey = \"000102030405060708090a0b0c0d0e0f\"\nbackup_key = 12\n"),
        "tfo.server.backup_key = 12: expected 32 hex digits or four dash-separated 8-digit hex words"
    );
}

#[test]
fn ports() {
    assert_eq!(
        with_base("mtu = 100\n"),
        "port[0].mtu = 100: expected an integer from 576 to 9216"
    );
    assert_eq!(
        with_base("neighbours = [{ ip = \"10.0.1.1\", mac = \"ff:ff:ff:ff:ff:ff\" }]\n"),
        "port[0].neighbours[0].mac = \"ff:ff:ff:ff:ff:ff\": expected a unicast MAC address such as \"02:00:00:00:00:01\""
    );
    assert_eq!(
        with_base("neighbours = [{ ip = \"10.0.1.x\", mac = \"02:00:00:00:00:01\" }]\n"),
        "port[0].neighbours[0].ip = \"10.0.1.x\": expected an IPv4 or IPv6 address"
    );
    assert_eq!(
        with_base("rx_queues = 0\n"),
        "port[0].rx_queues = 0: expected an integer from 1 to 128"
    );
    assert_eq!(
        with_base("name = \"s 1\"\n"),
        "port[0].name = \"s 1\": expected a non-empty name without spaces"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_af_packet0,iface\"\naddresses = [\"10.0.1.2/24\"]\n"),
        "port[0].vdev = \"net_af_packet0,iface\": expected a DPDK virtual device NAME[,KEY=VALUE...] such as \
         \"net_af_packet0,iface=s1\""
    );
    assert_eq!(
        one("[[port]]\npci = \"03:00\"\naddresses = [\"10.0.1.2/24\"]\n"),
        "port[0].pci = \"03:00\": expected a PCI address such as \"0000:03:00.0\" (optionally followed by ,KEY=VALUE devargs)"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\naddresses = []\n"),
        "port[0].addresses = []: expected a list of IPv4 or IPv6 addresses with prefix lengths, such as [\"10.0.1.2/24\"]"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\naddresses = \"10.0.1.2/24\"\n"),
        "port[0].addresses = \"10.0.1.2/24\": expected a list of IPv4 or IPv6 addresses with prefix lengths, such as [\"10.0.1.2/24\"]"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.1.2\"]\n"),
        "port[0].addresses[0] = \"10.0.1.2\": expected an IPv4 or IPv6 address with a prefix length"
    );
}

#[test]
fn endpoints() {
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.2.1\"\nflags = [\"signal\", \"mesh\"]\n"),
        "mptcp.endpoint[0].flags[1] = \"mesh\": expected one of \"signal\", \"subflow\", \"backup\", \"fullmesh\""
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.2.1\"\nflags = \"signal\"\n"),
        "mptcp.endpoint[0].flags = \"signal\": expected a list of flags from \"signal\", \"subflow\", \"backup\", \"fullmesh\""
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.2.1\"\nflags = [\"signal\", \"signal\"]\n"),
        "mptcp.endpoint[0].flags[1] = \"signal\": this flag is already listed"
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.2.1\"\nid = 0\n"),
        "mptcp.endpoint[0].id = 0: expected an integer from 1 to 255 (0 is the initial subflow's address)"
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\naddress = \"10.0.2.1/24\"\n"),
        "mptcp.endpoint[0].address = \"10.0.2.1/24\": expected an IPv4 or IPv6 address without prefix length"
    );
}

#[test]
fn serve_and_loadgen_values() {
    assert_eq!(
        one("[serve]\nlisten_port = 0\n"),
        "serve.listen_port = 0: expected an integer from 1 to 65535"
    );
    assert_eq!(
        one("[serve]\nmode = \"discard\"\n"),
        "serve.mode = \"discard\": expected \"rpc\" or \"echo\""
    );
    assert_eq!(
        one("[serve]\nduration_s = 0\n"),
        "serve.duration_s = 0: expected a number of seconds greater than 0 (e.g. 10 or 0.5)"
    );
    assert_eq!(
        one("[serve]\npcap = \"\"\n"),
        "serve.pcap = \"\": expected a file path"
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.1\"\n"),
        "loadgen.target = \"10.0.1.1\": expected \"ADDR:PORT\", such as \"10.0.1.2:8080\" or \"[fd00:1::2]:8080\""
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.1:8080\"\nshape = \"qps\"\n"),
        "loadgen.shape = \"qps\": expected \"cps\" or \"rps\""
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.1:8080\"\nrate = 0\n"),
        "loadgen.rate = 0: expected an integer from 1 to 100000000 (transactions per second)"
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.1:8080\"\nsubflows = 9\n"),
        "loadgen.subflows = 9: expected an integer from 0 to 8 (Linux's limit)"
    );
}

// ---------------------------------------------------------------------------
// Missing keys
// ---------------------------------------------------------------------------

#[test]
fn missing_keys() {
    assert_eq!(
        with_base("[loadgen]\nconnections = 4\n"),
        "loadgen.target is not set: expected \"ADDR:PORT\", such as \"10.0.1.2:8080\" or \"[fd00:1::2]:8080\""
    );
    assert_eq!(kind(&format!("{BASE}\n[loadgen]\n")), ErrorKind::Missing);
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\n"),
        "port[0].addresses is not set: expected a list of IPv4 or IPv6 addresses with prefix lengths, such as [\"10.0.1.2/24\"]"
    );
    assert_eq!(
        one("[[mptcp.endpoint]]\nid = 2\n"),
        "mptcp.endpoint[0].address is not set: expected an IPv4 or IPv6 address without prefix length"
    );
    assert_eq!(
        with_base("neighbours = [{ mac = \"02:00:00:00:00:01\" }]\n"),
        "port[0].neighbours[0].ip is not set: expected an IPv4 or IPv6 address"
    );
    assert_eq!(
        one("[serve]\n"),
        "port is not set: expected at least one [[port]] table (mptfo serve needs a device)"
    );
}

// ---------------------------------------------------------------------------
// Combinations
// ---------------------------------------------------------------------------

#[test]
fn eal_combinations() {
    assert_eq!(
        one("[eal]\nargs = [\"-l\", \"0\"]\nmemory_mb = 512\n"),
        "eal: both args and memory_mb are set: expected either args (the EAL command line, verbatim) or the \
         structured keys (lcores, main_lcore, memory_mb, no_huge, in_memory, no_shconf, file_prefix, vdevs)"
    );
    assert_eq!(
        kind("[eal]\nargs = [\"-l\", \"0\"]\nno_huge = true\n"),
        ErrorKind::Conflict
    );
    assert_eq!(
        one("[eal]\nno_huge = true\nin_memory = true\n"),
        "eal: both no_huge and in_memory are set: expected at most one of them (EAL refuses --in-memory with \
         --no-huge; use no_shconf)"
    );
    assert_eq!(
        one("cores = [0, 1]\n[eal]\nlcores = \"0\"\n"),
        "eal.lcores = \"0\": expected a list that contains every worker core (cores = \"0-1\"; 1 is missing)"
    );
    assert_eq!(
        one("cores = [1]\n[eal]\nlcores = [0, 1]\nmain_lcore = 3\n"),
        "eal.main_lcore = 3: expected one of the EAL lcores (eal.lcores = \"0-1\")"
    );
}

#[test]
fn port_combinations() {
    assert_eq!(
        one("[[port]]\naddresses = [\"10.0.1.2/24\"]\n"),
        "port[0]: neither vdev nor pci is set: expected one of them"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\npci = \"0000:03:00.0\"\naddresses = [\"10.0.1.2/24\"]\n"),
        "port[0]: both vdev and pci are set: expected one of them"
    );
    assert_eq!(
        with_base(
            "[[port]]\nname = \"port0\"\nvdev = \"net_ring0\"\naddresses = [\"10.0.2.2/24\"]\n"
        ),
        "port[1].name = \"port0\": expected a name no other port has (port[0] has it)"
    );
    assert_eq!(
        with_base("[[port]]\nvdev = \"net_af_packet0,iface=s2\"\naddresses = [\"10.0.2.2/24\"]\n"),
        "port[1].vdev = \"net_af_packet0,iface=s2\": expected a device no other port uses (port[0] is net_af_packet0)"
    );
    assert_eq!(
        with_base("[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.1.2/16\"]\n"),
        "port[1].addresses[0] = \"10.0.1.2/16\": expected an address not used before (port[0].addresses[0] has it)"
    );
    assert_eq!(
        one("[[port]]\nvdev = \"net_ring0\"\naddresses = [\"fd00::2/64\"]\nmtu = 1000\n"),
        "port[0].mtu = 1000: expected at least 1280 on a port with an IPv6 address (RFC 8200)"
    );
    assert_eq!(
        with_base("neighbours = [{ ip = \"10.0.2.1\", mac = \"02:00:00:00:00:01\" }]\n"),
        "port[0].neighbours[0].ip = \"10.0.2.1\": expected an address on one of the port's subnets (10.0.1.2/24)"
    );
    assert_eq!(
        with_base(
            "neighbours = [{ ip = \"10.0.1.1\", mac = \"02:00:00:00:00:01\" }, \
             { ip = \"10.0.1.1\", mac = \"02:00:00:00:00:02\" }]\n"
        ),
        "port[0].neighbours[1].ip = \"10.0.1.1\": expected each neighbour once (port[0].neighbours[0] has it)"
    );
    assert_eq!(
        with_base("rx_queues = 3\n"),
        "port[0].rx_queues = 3: expected 2, the number of worker cores (each core polls its own queue pair of every port)"
    );
    assert_eq!(
        with_base("tx_queues = 1\n"),
        "port[0].tx_queues = 1: expected 2, the number of worker cores (each core polls its own queue pair of every port)"
    );
    // Every port is driven: a further port's queue count must fit too.
    assert_eq!(
        with_base("[[port]]\nvdev = \"net_af_packet1,iface=s2,qpairs=1\"\naddresses = [\"10.0.2.2/24\"]\n"),
        "port[1].vdev = \"net_af_packet1,iface=s2,qpairs=1\": expected qpairs=2, one queue pair per worker core (cores = \"0-1\"), not qpairs=1"
    );
    assert_eq!(
        with_base("[[port]]\nvdev = \"net_af_xdp0,iface=s2,queue_count=4\"\naddresses = [\"10.0.2.2/24\"]\n"),
        "port[1].vdev = \"net_af_xdp0,iface=s2,queue_count=4\": expected queue_count=2, one queue pair per worker core (cores = \"0-1\"), not queue_count=4"
    );
}

#[test]
fn tcp_combinations() {
    assert_eq!(
        with_base("[tcp]\nmss = 1500\n"),
        "tcp.mss = 1500: expected at most 1460 (port[0]'s MTU 1500 minus 40 bytes of IP and TCP headers)"
    );
    assert_eq!(
        one("[tcp]\nmin_rto_ms = 2000\nmax_rto_ms = 1000\n"),
        "tcp.max_rto_ms = 1000: expected at least tcp.min_rto_ms (2000)"
    );
    assert_eq!(
        one("[tcp]\ninitial_rto_ms = 100\n"),
        "tcp.initial_rto_ms = 100: expected at least tcp.min_rto_ms (200)"
    );
    assert_eq!(
        one("[tcp]\nmax_rto_ms = 1000\ninitial_rto_ms = 3000\n"),
        "tcp.initial_rto_ms = 3000: expected at most tcp.max_rto_ms (1000)"
    );
    assert_eq!(
        one("[tcp]\nrecv_window = 16777216\n"),
        "tcp.recv_window = 16777216: expected at most 8388480 (65535 << tcp.window_shift 7, the largest window \
         it can announce)"
    );
}

#[test]
fn tfo_combinations() {
    assert_eq!(
        one("[tfo.server]\nbackup_key = \"000102030405060708090a0b0c0d0e0f\"\n"),
        "tfo.server: backup_key is set without key: expected a primary key too"
    );
}

#[test]
fn mptcp_combinations() {
    let mut many = String::from(BASE);
    for i in 1..=9 {
        many.push_str(&format!("[[mptcp.endpoint]]\naddress = \"10.0.1.{i}\"\n"));
    }
    let m = messages(&many);
    assert_eq!(
        m[0],
        "mptcp.endpoint: 9 endpoints: expected at most 8 (Linux's limit)"
    );
    assert_eq!(
        with_base(
            "[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.2.2/24\"]\n\
             [[mptcp.endpoint]]\naddress = \"10.0.2.2\"\nid = 2\n[[mptcp.endpoint]]\naddress = \"10.0.1.2\"\nid = 2\n"
        ),
        "mptcp.endpoint[1].id = 2: expected an ID no other endpoint has (mptcp.endpoint[0] has it)"
    );
    assert_eq!(
        with_base("[[mptcp.endpoint]]\naddress = \"10.0.1.2\"\n[[mptcp.endpoint]]\naddress = \"10.0.1.2\"\n"),
        "mptcp.endpoint[1].address = \"10.0.1.2\": expected an address no other endpoint has (mptcp.endpoint[0] has it)"
    );
    assert_eq!(
        with_base("[[mptcp.endpoint]]\naddress = \"10.0.2.2\"\n"),
        "mptcp.endpoint[0].address = \"10.0.2.2\": expected one of the ports' addresses (10.0.1.2)"
    );
    assert_eq!(
        with_base("[[mptcp.endpoint]]\naddress = \"10.0.1.2\"\nflags = [\"signal\", \"fullmesh\"]\n"),
        "mptcp.endpoint[0].flags = [\"signal\", \"fullmesh\"]: expected signal or fullmesh, not both (Linux \
         refuses the pair)"
    );
}

#[test]
fn loadgen_combinations() {
    let lg = "[loadgen]\ntarget = \"10.0.1.1:8080\"\n";
    assert_eq!(
        with_base(&format!("{lg}subflows = 3\n")),
        "loadgen.subflows = 3: expected at most mptcp.limits.subflows (2)"
    );
    assert_eq!(
        with_base(&format!("{lg}subflows = 1\nmptcp = false\n")),
        "loadgen.subflows = 1: expected 0 when the load generator does not use MPTCP"
    );
    assert_eq!(
        with_base(&format!("[mptcp]\nenabled = false\n{lg}mptcp = true\n")),
        "loadgen.mptcp = true: expected false or unset when mptcp.enabled = false"
    );
    assert_eq!(
        with_base(&format!("[tfo.client]\nenabled = false\n{lg}tfo = true\n")),
        "loadgen.tfo = true: expected false or unset when tfo.client.enabled = false"
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"10.0.1.2:8080\"\n"),
        "loadgen.target = \"10.0.1.2:8080\": expected a remote address, not one of this configuration's port addresses"
    );
    assert_eq!(
        with_base("[loadgen]\ntarget = \"[fd00::2]:8080\"\n"),
        "loadgen.target = \"[fd00::2]:8080\": expected an address on one of the ports' subnets (10.0.1.2/24): the \
         stack has no router"
    );
    assert_eq!(
        one("[loadgen]\ntarget = \"10.0.1.1:8080\"\n"),
        "port is not set: expected at least one [[port]] table (mptfo loadgen needs a device)"
    );
    assert_eq!(
        kind(&format!("{BASE}\n{lg}connections = 1\nrate = 1\n")),
        ErrorKind::Conflict
    );
}
