//! A file that sets every key survives `to_toml_string` and serde.

use mptfo_config::*;

/// Every key of the schema, none at its default.
const FULL: &str = r#"
cores = "0-3"

[eal]
lcores = [0, 1, 2, 3, 4]
main_lcore = 4
memory_mb = 1024
no_huge = true
no_shconf = true
file_prefix = "lab-1"
vdevs = ["net_pcap0,tx_pcap=/tmp/cap.pcap"]

[[port]]
name = "s1"
vdev = "net_af_packet0,iface=s1,qpairs=4"
addresses = ["10.0.1.2/24", "10.0.1.3/24"]
mtu = 9000
neighbours = [
  { ip = "10.0.1.1", mac = "02:00:00:00:01:01" },
  { ip = "10.0.1.101", mac = "02:00:00:00:01:65" },
]
rx_queues = 4
tx_queues = 4

[[port]]
name = "nic"
pci = "0000:03:00.0,rxq_cqe_comp_en=0"
addresses = ["fd00:2::2/64"]
mtu = 1500

[tcp]
mss = 1400
recv_window = 1048576
window_shift = 9
send_buffer = 524288
timestamps = false
sack = false
congestion = "newreno"
min_rto_ms = 10
max_rto_ms = 60000
initial_rto_ms = 300
syn_retries = 3
synack_retries = 2
data_retries = 8
delayed_ack_ms = 0
time_wait_ms = 1000

[tfo.server]
enabled = false
no_cookie = true
queue_len = 16
key = "000102030405060708090a0b0c0d0e0f"
backup_key = "0f0e0d0c-0b0a0908-07060504-03020100"

[tfo.client]
enabled = false
negative_cache_s = 5

[mptcp]
enabled = true
checksum = true
deny_join_id0 = true
reply_timing = "early"

[mptcp.limits]
subflows = 8
add_addr_accepted = 8

[[mptcp.endpoint]]
address = "10.0.1.3"
id = 3
flags = ["signal", "backup"]

[[mptcp.endpoint]]
address = "fd00:2::2"
flags = ["subflow", "fullmesh"]

[serve]
listen_port = 443
mode = "echo"
response_bytes = 0
duration_s = 1.5
pcap = "/tmp/serve.pcap"

[loadgen]
target = "[fd00:2::9]:443"
rate = 250000
duration_s = 30
transactions = 1000000
request_bytes = 1000
response_bytes = 1000
tfo = false
mptcp = true
subflows = 8
shape = "rps"
json = "/tmp/lg.json"
pcap = "/tmp/lg.pcap"
"#;

#[test]
fn every_key_is_read() {
    let c = Config::from_str(FULL).unwrap();
    assert_eq!(c.cores.as_slice(), &[0, 1, 2, 3]);
    assert_eq!(c.eal.main_lcore, Some(4));
    assert_eq!(
        c.ports[0].neighbours[1].mac.to_string(),
        "02:00:00:00:01:65"
    );
    assert_eq!(
        c.ports[1].pci.as_deref(),
        Some("0000:03:00.0,rxq_cqe_comp_en=0")
    );
    assert_eq!(c.ports[1].device_name(), Some("0000:03:00.0"));
    assert_eq!(c.tcp.congestion, Congestion::NewReno);
    assert_eq!(
        c.tfo.server.backup_key.unwrap().to_string(),
        "0c0d0e0f08090a0b0405060700010203"
    );
    assert_eq!(c.mptcp.endpoints[1].id, None);
    assert_eq!(c.serve.as_ref().unwrap().mode, ServeMode::Echo);
    let l = c.loadgen.as_ref().unwrap();
    assert_eq!(l.load(), Load::Rate(250_000));
    assert!(!l.uses_tfo(&c.tfo));
    assert_eq!(l.shape, Shape::Rps);
    assert_eq!(
        c.eal_args(),
        [
            "-l",
            "0-4",
            "--main-lcore",
            "4",
            "-m",
            "1024",
            "--no-huge",
            "--no-shconf",
            "--file-prefix=lab-1",
            "--vdev=net_af_packet0,iface=s1,qpairs=4",
            "-a",
            "0000:03:00.0,rxq_cqe_comp_en=0",
            "--vdev=net_pcap0,tx_pcap=/tmp/cap.pcap",
        ]
    );
}

#[test]
fn full_file_round_trips() {
    let c = Config::from_str(FULL).unwrap();
    let text = c.to_toml_string().unwrap();
    let back = Config::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, c);
    // And the text is stable from then on.
    assert_eq!(back.to_toml_string().unwrap(), text);
}

#[test]
fn defaults_round_trip() {
    let c = Config::default();
    let text = c.to_toml_string().unwrap();
    assert_eq!(Config::from_str(&text).unwrap(), c);
}

#[test]
fn serde_deserialize_validates_too() {
    let c: Config = toml::from_str(FULL).unwrap();
    assert_eq!(c, Config::from_str(FULL).unwrap());
    let e = toml::from_str::<Config>("[mptcp.limits]\nsubflows = 12\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("config error: mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"),
        "{e}"
    );
    let v = toml::Value::try_from(&c).unwrap();
    let again: Config = v.try_into().unwrap();
    assert_eq!(again, c);
}

#[test]
fn value_types_serialize_as_text() {
    let p: IpPrefix = "10.0.1.2/24".parse().unwrap();
    assert_eq!(
        toml::Value::try_from(p).unwrap(),
        toml::Value::String("10.0.1.2/24".into())
    );
    let c: CoreList = "0-2,5".parse().unwrap();
    assert_eq!(
        toml::Value::try_from(&c).unwrap(),
        toml::Value::Array(vec![0.into(), 1.into(), 2.into(), 5.into()])
    );
    #[derive(serde::Deserialize)]
    struct W {
        c: CoreList,
        k: TfoKey,
        m: MacAddr,
    }
    let w: W = toml::from_str("c = \"0-1\"\nk = \"1-2-3-4\"\nm = \"02:00:00:00:00:01\"\n").unwrap();
    assert_eq!(w.c.as_slice(), &[0, 1]);
    assert_eq!(w.k.linux_words(), [1, 2, 3, 4]);
    assert_eq!(w.m.0, [2, 0, 0, 0, 0, 1]);
    let w: W = toml::from_str("c = [3, 1]\nk = \"1-2-3-4\"\nm = \"02:00:00:00:00:01\"\n").unwrap();
    assert_eq!(w.c.as_slice(), &[1, 3]);
    assert!(
        toml::from_str::<W>("c = [1, 1]\nk = \"1-2-3-4\"\nm = \"02:00:00:00:00:01\"\n").is_err()
    );
}
