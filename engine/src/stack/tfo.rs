//! The TFO client's cookie cache (RFC 7413 §4.1.3).
//!
//! Owns: one entry per (client address, server address) pair, as Linux
//! keeps it in the TCP-metrics entry: the cookie, the option form the server
//! used, the server's MSS, and the negative-cache deadline after a SYN with
//! data timed out (RFC 7413 §4.1.3.2). The listener side (cookie validation
//! and the pending queue) lives in `input.rs` with the proto crate's
//! `CookieValidator`.

use std::net::IpAddr;

use mptfo_proto::options::{FastOpenOption, TfoForm};

use crate::time::Instant;

/// What the client remembers about one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieEntry {
    /// The cookie (never a request), in the form the server used.
    pub cookie: Option<FastOpenOption>,
    /// The server's MSS from its SYN/ACK.
    pub mss: u16,
    /// No SYN data to this server before this time.
    pub negative_until: Option<Instant>,
    /// A cookie request got no cookie: the next request alternates the
    /// option form (what Linux does, protocol.md §1).
    pub try_experimental: bool,
}

/// The cache of one core.
#[derive(Debug)]
pub struct CookieCache {
    /// Looked up for every SYN: keyed ahash, like the stack's other tables.
    entries: super::Table<(IpAddr, IpAddr), CookieEntry>,
}

impl CookieCache {
    /// An empty cache whose table is keyed from `seed`.
    pub fn new(seed: u64) -> CookieCache {
        CookieCache {
            entries: super::table(seed, 16),
        }
    }

    /// The entry of a pair, if any.
    pub fn get(&self, client: IpAddr, server: IpAddr) -> Option<&CookieEntry> {
        self.entries.get(&(client, server))
    }

    /// True while SYN data to `server` is off after a SYN-with-data timed
    /// out (RFC 7413 §4.1.3.2).
    pub fn is_negative(&self, client: IpAddr, server: IpAddr, now: Instant) -> bool {
        self.get(client, server)
            .is_some_and(|e| e.negative_until.is_some_and(|t| now < t))
    }

    /// The TFO option a new SYN to `server` should carry, and whether data
    /// may ride in it (a usable cookie is cached and no negative entry is in
    /// force).
    pub fn syn_option(
        &self,
        client: IpAddr,
        server: IpAddr,
        now: Instant,
    ) -> (FastOpenOption, bool) {
        match self.entries.get(&(client, server)) {
            Some(e) if e.negative_until.is_some_and(|t| now < t) => {
                (FastOpenOption::request(TfoForm::Iana), false)
            }
            Some(CookieEntry {
                cookie: Some(c), ..
            }) => (*c, true),
            Some(e) if e.try_experimental => {
                (FastOpenOption::request(TfoForm::Experimental), false)
            }
            _ => (FastOpenOption::request(TfoForm::Iana), false),
        }
    }

    /// The largest SYN payload for `server`: its cached MSS, else the RFC
    /// 7413 §4.1.3 defaults.
    pub fn syn_data_limit(&self, client: IpAddr, server: IpAddr) -> usize {
        match self.entries.get(&(client, server)) {
            Some(e) if e.mss > 0 => e.mss as usize,
            _ if server.is_ipv4() => 536,
            _ => 1220,
        }
    }

    /// Records what a SYN/ACK said: a cookie (stored), or none after we
    /// asked for one (alternate the form next time).
    pub fn on_synack(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        cookie: Option<FastOpenOption>,
        asked: bool,
        mss: u16,
    ) {
        let e = self.entries.entry((client, server)).or_insert(CookieEntry {
            cookie: None,
            mss,
            negative_until: None,
            try_experimental: false,
        });
        e.mss = mss;
        match cookie {
            Some(c) if !c.is_request() => {
                e.cookie = Some(c);
                e.try_experimental = false;
            }
            _ if asked && e.cookie.is_none() => e.try_experimental = !e.try_experimental,
            _ => {}
        }
    }

    /// A SYN with data timed out: send no data to this server until `until`.
    pub fn on_syn_timeout(&mut self, client: IpAddr, server: IpAddr, until: Instant) {
        let e = self.entries.entry((client, server)).or_insert(CookieEntry {
            cookie: None,
            mss: 0,
            negative_until: None,
            try_experimental: false,
        });
        e.negative_until = Some(until);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
