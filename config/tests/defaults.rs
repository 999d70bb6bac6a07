//! Defaults: an empty file is `Config::default()`, and every default is the
//! Linux (or engine) value its doc comment names.

use std::net::SocketAddr;
use std::time::Duration;

use mptfo_config::*;

#[test]
fn empty_file_is_the_default() {
    assert_eq!(Config::from_str("").unwrap(), Config::default());
    assert_eq!(
        Config::from_str("# nothing\n\n").unwrap(),
        Config::default()
    );
    assert!(Config::default().validate().is_ok());
}

#[test]
fn shared_sections() {
    let c = Config::default();
    assert_eq!(c.cores.as_slice(), &[0]);
    assert!(c.ports.is_empty());
    assert_eq!(c.eal, EalConfig::default());
    assert!(c.eal.args.is_empty() && c.eal.lcores.is_none() && c.eal.main_lcore.is_none());
    assert!(c.eal.memory_mb.is_none() && !c.eal.no_huge && !c.eal.in_memory && !c.eal.no_shconf);
    assert!(c.serve.is_none() && c.loadgen.is_none());
}

#[test]
fn tcp_matches_linux() {
    let t = Config::default().tcp;
    assert_eq!(t.mss, None);
    assert_eq!(Config::default().mss(), 1460);
    assert_eq!(t.recv_window, 262_144);
    assert_eq!(t.window_shift, 7);
    assert_eq!(t.send_buffer, 262_144);
    assert!(t.timestamps); // net.ipv4.tcp_timestamps = 1
    assert!(t.sack); // net.ipv4.tcp_sack = 1
    assert_eq!(t.congestion, Congestion::Cubic);
    assert_eq!(t.min_rto(), Duration::from_millis(200)); // TCP_RTO_MIN
    assert_eq!(t.max_rto(), Duration::from_secs(120)); // TCP_RTO_MAX
    assert_eq!(t.initial_rto(), Duration::from_secs(1)); // TCP_TIMEOUT_INIT
    assert_eq!(t.syn_retries, 6); // tcp_syn_retries
    assert_eq!(t.synack_retries, 5); // tcp_synack_retries
    assert_eq!(t.data_retries, 15); // tcp_retries2
    assert_eq!(t.delayed_ack(), Duration::from_millis(40)); // TCP_DELACK_MIN
    assert_eq!(t.time_wait(), Duration::from_secs(60)); // TCP_TIMEWAIT_LEN
}

#[test]
fn tfo_and_mptcp_match_linux_and_the_engine() {
    let c = Config::default();
    assert!(c.tfo.server.enabled && !c.tfo.server.no_cookie);
    assert_eq!(c.tfo.server.queue_len, 4096);
    assert_eq!(c.tfo.server.key, None);
    assert_eq!(c.tfo.server.backup_key, None);
    assert!(c.tfo.client.enabled);
    assert_eq!(c.tfo.client.negative_cache(), Duration::from_secs(60));
    assert_eq!(c.tfo.linux_tcp_fastopen(), 0x3);
    assert!(c.mptcp.enabled); // net.mptcp.enabled = 1
    assert!(!c.mptcp.checksum); // net.mptcp.checksum_enabled = 0
    assert!(!c.mptcp.deny_join_id0); // allow_join_initial_addr_port = 1
    assert_eq!(c.mptcp.reply_timing, ReplyTiming::Hold);
    // Linux's pm_nl_init_net: subflows_max = 2, add_addr_accept_max = 0.
    assert_eq!(
        c.mptcp.limits,
        MptcpLimits {
            subflows: 2,
            add_addr_accepted: 0
        }
    );
    assert!(c.mptcp.endpoints.is_empty());
}

#[test]
fn serve_defaults() {
    let c = Config::from_str(
        "[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.0.1/24\"]\n[serve]\n",
    )
    .unwrap();
    let s = c.serve.clone().unwrap();
    assert_eq!(s, ServeConfig::default());
    assert_eq!(s.listen_port, 8080);
    assert_eq!(s.mode, ServeMode::Rpc);
    assert_eq!(s.response_bytes, 64);
    assert_eq!(s.duration(), None);
    assert_eq!(s.pcap, None);
    let p = &c.ports[0];
    assert_eq!(p.name, "port0");
    assert_eq!(p.mtu, 1500);
    assert!(p.neighbours.is_empty());
    assert_eq!((p.rx_queues, p.tx_queues), (None, None));
    assert_eq!(c.queues(p), (1, 1));
    assert_eq!(p.device(), Some(PortDevice::Vdev("net_ring0")));
    assert_eq!(p.device_name(), Some("net_ring0"));
}

#[test]
fn loadgen_defaults() {
    let c = Config::from_str(
        "[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.0.1/24\"]\n[loadgen]\ntarget = \"10.0.0.2:8080\"\n",
    )
    .unwrap();
    let target: SocketAddr = "10.0.0.2:8080".parse().unwrap();
    let l = c.loadgen.clone().unwrap();
    assert_eq!(l, LoadgenConfig::new(target));
    assert_eq!(l.load(), Load::Connections(16));
    assert_eq!(l.time_limit(), Some(Duration::from_secs(10)));
    assert_eq!((l.request_bytes, l.response_bytes), (64, 64));
    assert!(l.uses_tfo(&c.tfo) && l.uses_mptcp(&c.mptcp));
    assert_eq!(l.subflows, 0);
    assert_eq!(l.shape, Shape::Cps);
    assert_eq!((l.json.as_ref(), l.pcap.as_ref()), (None, None));

    let mut l2 = l.clone();
    l2.transactions = Some(1000);
    assert_eq!(l2.time_limit(), None);
    l2.duration_s = Some(2.5);
    assert_eq!(l2.time_limit(), Some(Duration::from_millis(2500)));
    l2.rate = Some(5000);
    assert_eq!(l2.load(), Load::Rate(5000));

    let mut tfo_off = c.tfo;
    tfo_off.client.enabled = false;
    assert!(!l.uses_tfo(&tfo_off));
}

#[test]
fn derived_values() {
    let c = Config::from_str(
        r#"
cores = "2-3"
[[port]]
vdev = "net_ring0"
addresses = ["10.0.0.1/24"]
mtu = 9000
[[port]]
pci = "03:00.1"
addresses = ["fd00::1/64"]
"#,
    )
    .unwrap();
    // The smaller of 9000 - 40 and 1500 - 60 (the IPv6 port).
    assert_eq!(c.mss(), 1440);
    assert_eq!(c.ports[1].pci.as_deref(), Some("0000:03:00.1"));
    assert_eq!(c.ports[1].device_name(), Some("0000:03:00.1"));
    assert_eq!(c.queues(&c.ports[0]), (2, 2));
    assert_eq!(
        c.eal_args(),
        ["-l", "2-3", "--vdev=net_ring0", "-a", "0000:03:00.1"]
    );
}

#[test]
fn eal_args() {
    let c = Config::from_str(
        r#"
cores = [1]
[eal]
main_lcore = 0
memory_mb = 256
in_memory = true
file_prefix = "srv"
vdevs = ["net_pcap0,tx_pcap=/tmp/x.pcap"]
[[port]]
vdev = "net_memif0,role=server"
addresses = ["10.0.9.2/24"]
"#,
    )
    .unwrap();
    assert_eq!(c.eal_lcores().to_string(), "0-1");
    assert_eq!(
        c.eal_args(),
        [
            "-l",
            "0-1",
            "--main-lcore",
            "0",
            "-m",
            "256",
            "--in-memory",
            "--file-prefix=srv",
            "--no-pci",
            "--vdev=net_memif0,role=server",
            "--vdev=net_pcap0,tx_pcap=/tmp/x.pcap",
        ]
    );
    let v = Config::from_str(
        "[eal]\nargs = [\"-l\", \"0\", \"--no-huge\"]\n[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.0.1/24\"]\n",
    )
    .unwrap();
    assert_eq!(v.eal_args(), ["-l", "0", "--no-huge", "--vdev=net_ring0"]);
}

#[test]
fn linux_equivalent() {
    let c = Config::from_str(
        r#"
[[port]]
vdev = "net_ring0"
addresses = ["10.0.2.1/24"]
[tcp]
congestion = "reno"
[tfo.server]
no_cookie = true
key = "000102030405060708090a0b0c0d0e0f"
backup_key = "0f0e0d0c0b0a09080706050403020100"
[mptcp.limits]
add_addr_accepted = 2
[[mptcp.endpoint]]
address = "10.0.2.1"
id = 2
flags = ["subflow", "backup"]
"#,
    )
    .unwrap();
    assert_eq!(c.tcp.congestion, Congestion::NewReno);
    assert_eq!(c.tfo.linux_tcp_fastopen(), 0x203);
    assert_eq!(
        c.linux_equivalent(),
        [
            "sysctl -w net.ipv4.tcp_fastopen=515",
            "sysctl -w net.ipv4.tcp_timestamps=1",
            "sysctl -w net.ipv4.tcp_sack=1",
            "sysctl -w net.ipv4.tcp_congestion_control=reno",
            "sysctl -w net.ipv4.tcp_syn_retries=6",
            "sysctl -w net.ipv4.tcp_synack_retries=5",
            "sysctl -w net.ipv4.tcp_retries2=15",
            "sysctl -w net.ipv4.tcp_fastopen_key=03020100-07060504-0b0a0908-0f0e0d0c,0c0d0e0f-08090a0b-04050607-00010203",
            "sysctl -w net.mptcp.enabled=1",
            "sysctl -w net.mptcp.checksum_enabled=0",
            "sysctl -w net.mptcp.allow_join_initial_addr_port=1",
            "ip mptcp limits set subflow 2 add_addr_accepted 2",
            "ip mptcp endpoint flush",
            "ip mptcp endpoint add 10.0.2.1 id 2 subflow backup",
        ]
    );
}

#[test]
fn both_key_forms_are_the_same_key() {
    let a = Config::from_str("[tfo.server]\nkey = \"000102030405060708090a0b0c0d0e0f\"\n").unwrap();
    let b =
        Config::from_str("[tfo.server]\nkey = \"03020100-07060504-0b0a0908-0f0e0d0c\"\n").unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.tfo.server.key.unwrap().0,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    );
}
