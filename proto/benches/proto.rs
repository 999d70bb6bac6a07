//! Benchmarks of mptfo-proto's per-SYN work.
//!
//! Run: `cargo bench -p mptfo-proto -- --warm-up-time 1 --measurement-time 3`.
//! Each area is one function registered in a `criterion_group!`; to add an
//! area (e.g. parse + classify of a 32-SYN burst), write `fn bench_x(c: &mut
//! Criterion)`, put it in a group below and list the group in
//! `criterion_main!`. Throughput is reported in elements (cookies, keys) so
//! criterion prints elements per second.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mptfo_proto::crypto::{
    add_addr_hmac, idsn, join_ack_hmac, join_synack_hmac, token, KeyMaterial, MptcpKey,
};
use mptfo_proto::tfo::{
    cookie_for, siphash24, siphash24_lanes, CookieCheck, CookieRequest, CookieValidator, TfoKey,
    LOCKSTEP,
};

/// Size of an rx burst.
const BURST: usize = 32;

/// A small deterministic generator, so that runs are comparable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A burst of SYN cookies from distinct clients to one server address.
/// `backup`: the cookies were issued under the backup key (two hashes each).
fn burst(v: &CookieValidator, v6: bool, backup: bool, rng: &mut XorShift) -> Vec<CookieRequest> {
    let issuer = if backup { v.backup.unwrap() } else { v.primary };
    (0..BURST)
        .map(|_| {
            let r = rng.next();
            let (client, server): (IpAddr, IpAddr) = if v6 {
                let mut c = [0u8; 16];
                c[..8].copy_from_slice(&0x2001_0db8_0000_0000u64.to_be_bytes());
                c[8..].copy_from_slice(&r.to_be_bytes());
                (c.into(), "2001:db8::80".parse().unwrap())
            } else {
                (
                    (r as u32).to_be_bytes().into(),
                    "192.0.2.80".parse().unwrap(),
                )
            };
            CookieRequest {
                client,
                server,
                cookie: cookie_for(&issuer, client, server),
            }
        })
        .collect()
}

fn bench_tfo_cookies(c: &mut Criterion) {
    eprintln!("tfo::LOCKSTEP = {LOCKSTEP} (lockstep SIMD batch needs AVX-512F at build time)");
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let mut v = CookieValidator::new(TfoKey(*b"mptfo-bench-key1"));
    v.rotate(TfoKey(*b"mptfo-bench-key2"));

    for (name, v6, backup) in [
        ("ipv4", false, false),
        ("ipv6", true, false),
        ("ipv4_backup", false, true),
    ] {
        let reqs = burst(&v, v6, backup, &mut rng);
        let want = if backup {
            CookieCheck::ValidBackup
        } else {
            CookieCheck::ValidPrimary
        };
        let mut g = c.benchmark_group(format!("tfo_cookie_validate_{name}"));
        g.throughput(Throughput::Elements(BURST as u64));
        g.bench_function("single_x32", |b| {
            let mut out = [CookieCheck::Invalid; BURST];
            b.iter(|| {
                for (o, r) in out.iter_mut().zip(black_box(&reqs)) {
                    *o = v.validate(r.client, r.server, &r.cookie);
                }
                assert_eq!(black_box(&out)[BURST - 1], want);
            })
        });
        g.bench_function("batch_x32", |b| {
            let mut out = [CookieCheck::Invalid; BURST];
            b.iter(|| {
                v.validate_batch(black_box(&reqs), &mut out);
                assert_eq!(black_box(&out)[BURST - 1], want);
            })
        });
        g.finish();
    }

    let mut g = c.benchmark_group("tfo_cookie_issue");
    g.throughput(Throughput::Elements(1));
    let (cl, sv): (IpAddr, IpAddr) = (
        "198.51.100.7".parse().unwrap(),
        "192.0.2.80".parse().unwrap(),
    );
    g.bench_function("ipv4", |b| b.iter(|| v.issue(black_box(cl), black_box(sv))));
    g.finish();

    // The raw hash, 32 independent 8-byte messages: one at a time vs the
    // lockstep lanes (which are SIMD only with AVX-512, see `tfo::LOCKSTEP`).
    let mut g = c.benchmark_group("siphash24_8byte_msg");
    let key = [7u8; 16];
    let msgs: Vec<[u8; 8]> = (0..BURST).map(|_| rng.next().to_le_bytes()).collect();
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("scalar_x32", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for m in black_box(&msgs) {
                acc ^= siphash24(&key, m);
            }
            acc
        })
    });
    g.bench_function("lanes_x32", |b| {
        b.iter(|| {
            let m = black_box(&msgs);
            let refs: [&[u8]; BURST] = core::array::from_fn(|i| &m[i][..]);
            siphash24_lanes(&key, &refs)
        })
    });
    g.finish();
}

fn bench_mptcp_crypto(c: &mut Criterion) {
    let mut g = c.benchmark_group("mptcp_key");
    g.throughput(Throughput::Elements(1));
    let k = MptcpKey(0x4496_a4c5_0f04_5110);
    g.bench_function("token", |b| b.iter(|| token(black_box(k))));
    g.bench_function("idsn", |b| b.iter(|| idsn(black_box(k))));
    g.bench_function("material_token_and_idsn", |b| {
        b.iter(|| KeyMaterial::new(black_box(k)))
    });
    g.finish();

    let mut g = c.benchmark_group("mptcp_hmac");
    g.throughput(Throughput::Elements(1));
    let (ka, kb) = (k, MptcpKey(0x5c6d_8f8b_e9b1_ac6e));
    g.bench_function("join_synack", |b| {
        b.iter(|| join_synack_hmac(black_box(kb), ka, 0xe2de_aece, 0x0ccb_77d2))
    });
    g.bench_function("join_ack", |b| {
        b.iter(|| join_ack_hmac(black_box(ka), kb, 0x0ccb_77d2, 0xe2de_aece))
    });
    let a: IpAddr = "10.0.2.2".parse().unwrap();
    g.bench_function("add_addr", |b| {
        b.iter(|| add_addr_hmac(black_box(kb), ka, 5, a, None))
    });
    g.finish();
}

criterion_group!(crypto, bench_tfo_cookies, bench_mptcp_crypto);
criterion_main!(crypto);
