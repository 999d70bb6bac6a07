//! The path manager of one MPTCP connection: Linux's in-kernel PM
//! (`net.mptcp.path_manager = kernel`) as a pure state machine.
//!
//! [`PmConfig`] is the per-host (per-worker) table of endpoints and limits,
//! what `ip mptcp endpoint` and `ip mptcp limits` configure. A
//! [`PathManager`] per connection takes events from the stack and answers
//! with [`Action`]s for the stack to carry out; it does no I/O and reads no
//! clock (deadlines are absolute [`Instant`]s, see
//! [`PathManager::next_deadline`]).
//!
//! # Rules (protocol.md §8, Linux 6.x `pm.c`, `pm_kernel.c`)
//!
//! - **Ids.** Address id 0 is the address of the initial subflow, on each
//!   side. Endpoints carry ids 1..=255, given or allocated like Linux
//!   ([`PmConfig::add_endpoint`]). An endpoint whose address is the initial
//!   subflow's local address is that connection's id 0 and is neither
//!   announced nor used for an extra subflow.
//! - **Limits.** `subflows` (0..=8, default 2) bounds the extra subflows of
//!   a connection, opened and accepted alike; `add_addr_accepted` (0..=8,
//!   default 0) bounds the peer's ADD_ADDRs acted on.
//! - **Fully established** ([`PathManager::on_established`]): every
//!   `signal` endpoint is announced (ADD_ADDR with HMAC, retransmitted every
//!   `add_addr_timeout`, default 120 s, at most 3 times until echoed); every
//!   `subflow` endpoint opens one subflow to the peer's initial address —
//!   unless the peer set the C flag ("deny join id 0") — within `subflows`.
//!   Like Linux this applies to both sides; a server normally has only
//!   `signal` endpoints.
//! - **ADD_ADDR received** ([`PathManager::on_add_addr`]): an unverifiable
//!   HMAC ⇒ ignored. Otherwise always echoed. A subflow to the address is
//!   opened only if `add_addr_accepted` and `subflows` allow it, no subflow
//!   goes to that address yet, and the id is new (an id 0 announcement, or
//!   a known id, is only echoed): from every `fullmesh` endpoint, or else
//!   from the initial subflow's local address (where Linux lets routing
//!   choose the source). The C-flag special case of Linux 6.18: if the peer
//!   denies joins to its initial address, `add_addr_accepted` is 0 and no
//!   `subflow` endpoint was used yet, one ADD_ADDR is accepted anyway and the
//!   `subflow` endpoints connect to it.
//! - **REMOVE_ADDR received**: unknown ids are ignored; subflows whose remote
//!   id is listed are closed (`CloseSubflow`) and, if that address had been
//!   accepted, the `add_addr_accepted` slot is freed.
//! - **Local withdrawal** ([`PathManager::remove_local`], e.g. after
//!   `ip mptcp endpoint delete`): REMOVE_ADDR for the id if it was announced
//!   or carries subflows, and those subflows are closed.
//! - **MP_PRIO**: [`PathManager::set_local_backup`] sends it on the subflows
//!   of a local address; a received one changes the peer's backup request
//!   for the subflow it arrived on. A subflow is backup for the scheduler
//!   if either side asked ([`PathManager::is_backup`]).
//! - **Join admission** (listener, [`PathManager::admit_join_syn`],
//!   [`PathManager::admit_join_ack`]): a join is refused (RST, MP_TCPRST
//!   0x03) until the connection is fully established (the client's key is
//!   known); afterwards the SYN is always answered — even over the
//!   `subflows` limit, as Linux 6.18 does — and the limit is enforced at the
//!   third ACK (RST 0x03, `MPTcpExtMPJoinRejected`). An unknown token is the
//!   stack's lookup failure: [`join_syn_unknown_token`] (RST 0x01,
//!   `MPTcpExtMPJoinNoTokenFound`).
//!
//! A subflow is only opened between addresses of the same family.
//!
//! Not modelled: ADD_ADDR with a port for `signal` endpoints (Linux creates
//! a listener on it), the netns-wide scope of implicit endpoint ids (here
//! per connection), and keepalive probing before tearing a removed path
//! down.

use core::net::{IpAddr, SocketAddr};
use core::ops::BitOr;

use mptfo_proto::crypto::{add_addr_hmac, MptcpKey};
use mptfo_proto::options::{AddAddr, MpTcpRstReason, RemoveAddr};

use crate::counters::Counters;
use crate::time::{Duration, Instant};

/// Linux's `MPTCP_PM_ADDR_MAX`: most endpoints, and the highest limit.
pub const PM_ADDR_MAX: u8 = 8;

/// Linux's `net.mptcp.add_addr_timeout` default: an ADD_ADDR not echoed is
/// sent again after this long.
pub const ADD_ADDR_TIMEOUT: Duration = Duration::from_secs(120);

/// Linux's `ADD_ADDR_RETRANS_MAX`: retransmissions of an un-echoed ADD_ADDR.
pub const ADD_ADDR_RETRANS_MAX: u8 = 3;

/// Flags of an endpoint, as `ip mptcp endpoint add ADDR FLAGS` takes them.
/// Combine with `|`: `EndpointFlags::SUBFLOW | EndpointFlags::BACKUP`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EndpointFlags {
    /// Announce the address to the peer (ADD_ADDR) once fully established.
    pub signal: bool,
    /// Open one subflow from the address to the peer's initial address.
    pub subflow: bool,
    /// Subflows from the address are backup subflows.
    pub backup: bool,
    /// Open a subflow from the address to every address the peer announces
    /// (and is accepted).
    pub fullmesh: bool,
}

impl EndpointFlags {
    /// No flag.
    pub const NONE: EndpointFlags = EndpointFlags {
        signal: false,
        subflow: false,
        backup: false,
        fullmesh: false,
    };
    /// `signal`.
    pub const SIGNAL: EndpointFlags = EndpointFlags {
        signal: true,
        ..EndpointFlags::NONE
    };
    /// `subflow`.
    pub const SUBFLOW: EndpointFlags = EndpointFlags {
        subflow: true,
        ..EndpointFlags::NONE
    };
    /// `backup`.
    pub const BACKUP: EndpointFlags = EndpointFlags {
        backup: true,
        ..EndpointFlags::NONE
    };
    /// `fullmesh`.
    pub const FULLMESH: EndpointFlags = EndpointFlags {
        fullmesh: true,
        ..EndpointFlags::NONE
    };
}

impl BitOr for EndpointFlags {
    type Output = EndpointFlags;

    fn bitor(self, o: EndpointFlags) -> EndpointFlags {
        EndpointFlags {
            signal: self.signal | o.signal,
            subflow: self.subflow | o.subflow,
            backup: self.backup | o.backup,
            fullmesh: self.fullmesh | o.fullmesh,
        }
    }
}

/// A local address the path manager may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Address id, 1..=255.
    pub id: u8,
    /// The address.
    pub addr: IpAddr,
    /// Flags.
    pub flags: EndpointFlags,
}

/// Path-manager limits (`ip mptcp limits set subflow N add_addr_accepted M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    subflows: u8,
    add_addr_accepted: u8,
}

impl Limits {
    /// Limits of `subflows` extra subflows and `add_addr_accepted` accepted
    /// ADD_ADDRs per connection, each 0..=8.
    pub fn new(subflows: u8, add_addr_accepted: u8) -> Result<Limits, PmError> {
        for v in [subflows, add_addr_accepted] {
            if v > PM_ADDR_MAX {
                return Err(PmError::LimitOutOfRange(v));
            }
        }
        Ok(Limits {
            subflows,
            add_addr_accepted,
        })
    }

    /// Most extra subflows (beyond the initial one) per connection.
    pub fn subflows(&self) -> u8 {
        self.subflows
    }

    /// Most peer ADD_ADDRs acted on per connection.
    pub fn add_addr_accepted(&self) -> u8 {
        self.add_addr_accepted
    }
}

impl Default for Limits {
    /// Linux's defaults in a fresh network namespace: 2 and 0.
    fn default() -> Limits {
        Limits {
            subflows: 2,
            add_addr_accepted: 0,
        }
    }
}

/// A configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PmError {
    /// A limit above 8.
    #[error("limit {0} out of range: expected 0..=8")]
    LimitOutOfRange(u8),
    /// Id 0 given to an endpoint.
    #[error("address id 0 is the initial subflow's: endpoints take 1..=255")]
    IdZero,
    /// The id belongs to another endpoint.
    #[error("address id {0} is already used by another endpoint")]
    DuplicateId(u8),
    /// The address already is an endpoint.
    #[error("address {0} already is an endpoint")]
    DuplicateAddress(IpAddr),
    /// More than 8 endpoints.
    #[error("too many endpoints: at most 8")]
    TooManyEndpoints,
    /// `signal` with `fullmesh` (Linux refuses the pair).
    #[error("an endpoint cannot be both signal and fullmesh")]
    SignalFullmesh,
    /// No endpoint has that id.
    #[error("no endpoint with id {0}")]
    UnknownEndpoint(u8),
}

/// Endpoints, limits and timers shared by the connections of a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmConfig {
    /// Sorted by id.
    endpoints: Vec<Endpoint>,
    /// Linux's `pernet->next_id`: where the search for a free id starts.
    next_id: u8,
    /// Limits.
    pub limits: Limits,
    /// Time before an un-echoed ADD_ADDR is sent again (zero: never).
    pub add_addr_timeout: Duration,
    /// Retransmissions of an un-echoed ADD_ADDR.
    pub add_addr_retrans_max: u8,
}

impl Default for PmConfig {
    fn default() -> PmConfig {
        PmConfig::new(Limits::default())
    }
}

impl PmConfig {
    /// No endpoints, the given limits, Linux's ADD_ADDR timer settings.
    pub fn new(limits: Limits) -> PmConfig {
        PmConfig {
            endpoints: Vec::new(),
            next_id: 1,
            limits,
            add_addr_timeout: ADD_ADDR_TIMEOUT,
            add_addr_retrans_max: ADD_ADDR_RETRANS_MAX,
        }
    }

    /// Add an endpoint (`ip mptcp endpoint add ADDR [id ID] FLAGS`) and
    /// return its id. Without an id, the next free one is taken as Linux
    /// does: the lowest free id not below the highest id handed out so far,
    /// wrapping to 1 (so a deleted id below that one is not reused at once).
    pub fn add_endpoint(
        &mut self,
        addr: IpAddr,
        id: Option<u8>,
        flags: EndpointFlags,
    ) -> Result<u8, PmError> {
        // Linux `mptcp_pm_nl_append_new_local_addr`: past the last id the
        // search starts over at 1.
        if self.next_id == u8::MAX {
            self.next_id = 1;
        }
        if self.endpoints.len() >= usize::from(PM_ADDR_MAX) {
            return Err(PmError::TooManyEndpoints);
        }
        if flags.signal && flags.fullmesh {
            return Err(PmError::SignalFullmesh);
        }
        if self.endpoints.iter().any(|e| e.addr == addr) {
            return Err(PmError::DuplicateAddress(addr));
        }
        let id = match id {
            Some(0) => return Err(PmError::IdZero),
            Some(id) if self.endpoint(id).is_some() => return Err(PmError::DuplicateId(id)),
            Some(id) => id,
            None => {
                let free = |from: u8| (from..=u8::MAX).find(|&i| self.endpoint(i).is_none());
                // Fewer than 8 endpoints: a free id always exists.
                free(self.next_id)
                    .or_else(|| free(1))
                    .ok_or(PmError::TooManyEndpoints)?
            }
        };
        self.next_id = self.next_id.max(id);
        let at = self.endpoints.partition_point(|e| e.id < id);
        self.endpoints.insert(at, Endpoint { id, addr, flags });
        Ok(id)
    }

    /// Remove an endpoint (`ip mptcp endpoint delete id ID`); the
    /// connections then need [`PathManager::remove_local`].
    pub fn remove_endpoint(&mut self, id: u8) -> Result<Endpoint, PmError> {
        let at = self
            .endpoints
            .iter()
            .position(|e| e.id == id)
            .ok_or(PmError::UnknownEndpoint(id))?;
        Ok(self.endpoints.remove(at))
    }

    /// Change an endpoint's backup flag (`ip mptcp endpoint change id ID
    /// [no]backup`); the connections then need
    /// [`PathManager::set_local_backup`].
    pub fn set_backup(&mut self, id: u8, backup: bool) -> Result<(), PmError> {
        let e = self
            .endpoints
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or(PmError::UnknownEndpoint(id))?;
        e.flags.backup = backup;
        Ok(())
    }

    /// The endpoints, by id.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoint with id `id`.
    pub fn endpoint(&self, id: u8) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    /// The endpoint with address `addr`.
    pub fn endpoint_by_addr(&self, addr: IpAddr) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.addr == addr)
    }
}

/// The path manager's name for a subflow of its connection.
/// [`PmSubflow::INITIAL`] is the MP_CAPABLE subflow; the others are handed
/// out in [`Action::OpenSubflow`] and [`JoinAckVerdict::Accept`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PmSubflow(pub u32);

impl PmSubflow {
    /// The initial (MP_CAPABLE) subflow.
    pub const INITIAL: PmSubflow = PmSubflow(0);
}

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The initiator (sent the MP_CAPABLE SYN).
    Client,
    /// The listener.
    Server,
}

/// A local address with its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    /// Address id (0: the initial subflow's address).
    pub id: u8,
    /// The address.
    pub addr: IpAddr,
}

/// A subflow to open: an MP_JOIN from `local` to `remote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenSubflow {
    /// The name to report it by ([`PathManager::on_subflow_established`],
    /// [`PathManager::on_subflow_closed`]).
    pub subflow: PmSubflow,
    /// Source address and its id (the MP_JOIN SYN's address id).
    pub local: LocalAddr,
    /// Destination.
    pub remote: SocketAddr,
    /// The peer's id for the destination address.
    pub remote_id: u8,
    /// Ask for a backup subflow (B on the MP_JOIN SYN).
    pub backup: bool,
}

/// Why the path manager closes a subflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer removed the subflow's remote address (REMOVE_ADDR).
    RemoteAddressRemoved,
    /// The subflow's local address was withdrawn.
    LocalAddressRemoved,
}

/// What the stack must do for the path manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this ADD_ADDR (E = 0, with HMAC) on a pure ACK of any subflow.
    SendAddAddr(AddAddr),
    /// Send this ADD_ADDR echo (E = 1) on a pure ACK of any subflow.
    SendEcho(AddAddr),
    /// Open a join subflow.
    OpenSubflow(OpenSubflow),
    /// Send this REMOVE_ADDR on a pure ACK of any subflow.
    SendRemoveAddr(RemoveAddr),
    /// Close the subflow (FIN; RST if it cannot be closed cleanly).
    CloseSubflow {
        /// Which one.
        subflow: PmSubflow,
        /// Why.
        reason: CloseReason,
    },
    /// Send MP_PRIO on that subflow.
    SendMpPrio {
        /// The subflow it is sent on (and applies to).
        subflow: PmSubflow,
        /// B flag.
        backup: bool,
    },
    /// The subflow's backup state for the scheduler changed.
    SetBackup {
        /// Which one.
        subflow: PmSubflow,
        /// Its new [`PathManager::is_backup`].
        backup: bool,
    },
}

impl Action {
    /// Count the transmit-side MIB event of carrying out this action
    /// (`MPTcpExtAddAddrTx`, `EchoAddTx`, `RmAddrTx`, `MPPrioTx`,
    /// `MPJoinSynTx`); call it when the option or SYN is actually sent.
    pub fn count_tx(&self, c: &mut Counters) {
        match self {
            Action::SendAddAddr(_) => c.mptcp_add_addr_tx += 1,
            Action::SendEcho(_) => c.mptcp_echo_add_tx += 1,
            Action::SendRemoveAddr(_) => c.mptcp_rm_addr_tx += 1,
            Action::SendMpPrio { .. } => c.mptcp_mp_prio_tx += 1,
            Action::OpenSubflow(_) => c.mptcp_mp_join_syn_tx += 1,
            Action::CloseSubflow { .. } | Action::SetBackup { .. } => {}
        }
    }
}

/// Answer to an MP_JOIN SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinSynVerdict {
    /// Send the SYN/ACK with this address id and backup flag.
    Answer {
        /// Our id for the address the SYN was sent to.
        local_id: u8,
        /// B on our SYN/ACK (the local endpoint's backup flag).
        backup: bool,
    },
    /// Refuse: RST with this MP_TCPRST reason.
    Reset(MpTcpRstReason),
}

/// Answer to a join's (HMAC-verified) third ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinAckVerdict {
    /// The subflow joins the connection under this name.
    Accept(PmSubflow),
    /// Refuse: RST with this MP_TCPRST reason.
    Reset(MpTcpRstReason),
}

/// A join the listener completed, as given to
/// [`PathManager::admit_join_ack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinedSubflow {
    /// Our address of the subflow (where the SYN was sent).
    pub local_addr: IpAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// The peer's address id (its MP_JOIN SYN).
    pub remote_id: u8,
    /// B on our SYN/ACK.
    pub local_backup: bool,
    /// B on the peer's SYN.
    pub remote_backup: bool,
}

/// The verdict on an MP_JOIN SYN whose token matches no connection: RST
/// with MP_TCPRST 0x01. Counts `MPTcpExtMPJoinSynRx` and
/// `MPTcpExtMPJoinNoTokenFound`.
pub fn join_syn_unknown_token(counters: &mut Counters) -> JoinSynVerdict {
    counters.mptcp_mp_join_syn_rx += 1;
    counters.mptcp_mp_join_no_token_found += 1;
    JoinSynVerdict::Reset(MpTcpRstReason::MptcpError)
}

/// An address this connection announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Address id.
    pub id: u8,
    /// The address.
    pub addr: IpAddr,
    /// Port, if announced with one.
    pub port: Option<u16>,
    /// The peer echoed it.
    pub echoed: bool,
    /// Times sent (1 + retransmissions).
    pub transmissions: u8,
    /// When to send it again, if not echoed by then.
    pub deadline: Option<Instant>,
}

/// An address the peer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr {
    /// The peer's id for it.
    pub id: u8,
    /// The address.
    pub addr: IpAddr,
    /// Port, if announced with one.
    pub port: Option<u16>,
    /// It took an `add_addr_accepted` slot (subflows were opened to it).
    pub accepted: bool,
}

/// One subflow as the path manager sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubflowInfo {
    /// Its name.
    pub subflow: PmSubflow,
    /// Local address and id.
    pub local: LocalAddr,
    /// Remote address.
    pub remote: SocketAddr,
    /// The peer's id for the remote address.
    pub remote_id: u8,
    /// The handshake completed (always true for the initial subflow and for
    /// accepted joins; opened joins become established when reported).
    pub established: bool,
    /// We asked the peer to treat it as backup (our MP_JOIN B / MP_PRIO).
    pub local_backup: bool,
    /// The peer asked us to treat it as backup (its MP_JOIN B / MP_PRIO).
    pub remote_backup: bool,
}

/// The path manager of one connection. See the module docs.
#[derive(Clone, Debug)]
pub struct PathManager {
    role: Role,
    local_key: MptcpKey,
    remote_key: Option<MptcpKey>,
    peer_deny_join_id0: bool,
    local: SocketAddr,
    remote: SocketAddr,
    established: bool,
    announced: Vec<Announcement>,
    remotes: Vec<RemoteAddr>,
    subflows: Vec<SubflowInfo>,
    /// Extra subflows (opened or accepted, not yet closed).
    extra: u8,
    add_addr_accepted: u8,
    /// `subflow` endpoints already used (Linux's `local_addr_used`), by id.
    used_endpoints: Vec<u8>,
    /// Ids given to local addresses that are neither the initial address
    /// nor an endpoint (Linux's implicit endpoints).
    implicit: Vec<LocalAddr>,
    next_subflow: u32,
}

impl PathManager {
    /// The path manager of a connection whose initial subflow goes from
    /// `local` to `remote`, with our key `local_key`.
    pub fn new(role: Role, local: SocketAddr, remote: SocketAddr, local_key: MptcpKey) -> Self {
        PathManager {
            role,
            local_key,
            remote_key: None,
            peer_deny_join_id0: false,
            local,
            remote,
            established: false,
            announced: Vec::new(),
            remotes: Vec::new(),
            subflows: vec![SubflowInfo {
                subflow: PmSubflow::INITIAL,
                local: LocalAddr {
                    id: 0,
                    addr: local.ip(),
                },
                remote,
                remote_id: 0,
                established: true,
                local_backup: false,
                remote_backup: false,
            }],
            extra: 0,
            add_addr_accepted: 0,
            used_endpoints: Vec::new(),
            implicit: Vec::new(),
            next_subflow: 1,
        }
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection is fully established at MPTCP level.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The peer's key, once known.
    pub fn remote_key(&self) -> Option<MptcpKey> {
        self.remote_key
    }

    /// The peer set the C flag ("no joins to my initial address").
    pub fn peer_deny_join_id0(&self) -> bool {
        self.peer_deny_join_id0
    }

    /// Extra subflows (beyond the initial one) opened or accepted and not
    /// closed: what the `subflows` limit bounds.
    pub fn extra_subflows(&self) -> u8 {
        self.extra
    }

    /// Peer ADD_ADDRs acted on: what the `add_addr_accepted` limit bounds.
    pub fn add_addr_accepted(&self) -> u8 {
        self.add_addr_accepted
    }

    /// The addresses we announced.
    pub fn announcements(&self) -> &[Announcement] {
        &self.announced
    }

    /// The addresses the peer announced.
    pub fn remote_addrs(&self) -> &[RemoteAddr] {
        &self.remotes
    }

    /// The live subflows, the initial one first (unless it was closed).
    pub fn subflows(&self) -> &[SubflowInfo] {
        &self.subflows
    }

    /// One subflow.
    pub fn subflow(&self, sf: PmSubflow) -> Option<&SubflowInfo> {
        self.subflows.iter().find(|s| s.subflow == sf)
    }

    /// Whether the scheduler should treat `sf` as a backup subflow: either
    /// side asked for it (Linux checks `backup || request_bkup`).
    pub fn is_backup(&self, sf: PmSubflow) -> bool {
        self.subflow(sf)
            .is_some_and(|s| s.local_backup || s.remote_backup)
    }

    /// The earliest ADD_ADDR retransmission deadline, for the timer wheel.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.announced.iter().filter_map(|a| a.deadline).min()
    }

    /// Our id for local address `addr`: 0 for the initial subflow's address,
    /// the endpoint's id, or else an implicit id (the lowest id no endpoint
    /// and no other implicit address of this connection has).
    pub fn local_id(&mut self, cfg: &PmConfig, addr: IpAddr) -> u8 {
        if addr == self.local.ip() {
            return 0;
        }
        if let Some(e) = cfg.endpoint_by_addr(addr) {
            return e.id;
        }
        if let Some(l) = self.implicit.iter().find(|l| l.addr == addr) {
            return l.id;
        }
        let id = (1..=u8::MAX)
            .find(|&i| cfg.endpoint(i).is_none() && !self.implicit.iter().any(|l| l.id == i))
            .unwrap_or(u8::MAX);
        self.implicit.push(LocalAddr { id, addr });
        id
    }

    fn new_subflow_name(&mut self) -> PmSubflow {
        let sf = PmSubflow(self.next_subflow);
        self.next_subflow = self.next_subflow.wrapping_add(1).max(1);
        sf
    }

    /// Register an opened subflow and return its action, unless the
    /// `subflows` limit is reached, the address families differ, or a
    /// subflow already links the two addresses.
    fn open(
        &mut self,
        cfg: &PmConfig,
        local: LocalAddr,
        remote: SocketAddr,
        remote_id: u8,
        backup: bool,
    ) -> Option<Action> {
        if self.extra >= cfg.limits.subflows || local.addr.is_ipv4() != remote.is_ipv4() {
            return None;
        }
        if self
            .subflows
            .iter()
            .any(|s| s.local.addr == local.addr && s.remote == remote)
        {
            return None;
        }
        let subflow = self.new_subflow_name();
        self.extra += 1;
        self.subflows.push(SubflowInfo {
            subflow,
            local,
            remote,
            remote_id,
            established: false,
            local_backup: backup,
            remote_backup: false,
        });
        Some(Action::OpenSubflow(OpenSubflow {
            subflow,
            local,
            remote,
            remote_id,
            backup,
        }))
    }

    fn announce_option(&self, id: u8, addr: IpAddr, port: Option<u16>) -> Option<AddAddr> {
        let rk = self.remote_key?;
        Some(AddAddr {
            echo: false,
            addr_id: id,
            addr,
            port,
            hmac: Some(add_addr_hmac(self.local_key, rk, id, addr, port)),
        })
    }

    /// The connection became fully established (both keys known; Linux:
    /// after the MP_CAPABLE third ACK or the first DATA_ACK).
    /// `peer_deny_join_id0` is the C flag of the peer's MP_CAPABLE. Returns
    /// the announcements of `signal` endpoints and the subflows of
    /// `subflow` endpoints (and an MP_PRIO on the initial subflow if its
    /// address is a `backup` endpoint). A second call does nothing.
    pub fn on_established(
        &mut self,
        cfg: &PmConfig,
        now: Instant,
        remote_key: MptcpKey,
        peer_deny_join_id0: bool,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.established {
            return out;
        }
        self.established = true;
        self.remote_key = Some(remote_key);
        self.peer_deny_join_id0 = peer_deny_join_id0;
        let initial = self.local.ip();
        // Linux: the initial subflow's address is a `backup` endpoint ⇒
        // MP_PRIO on the initial subflow.
        if cfg
            .endpoint_by_addr(initial)
            .is_some_and(|e| e.flags.backup)
        {
            out.extend(self.set_local_backup(0, true));
        }
        for e in cfg.endpoints() {
            if !e.flags.signal || e.addr == initial {
                continue;
            }
            if let Some(opt) = self.announce_option(e.id, e.addr, None) {
                self.announced.push(Announcement {
                    id: e.id,
                    addr: e.addr,
                    port: None,
                    echoed: false,
                    transmissions: 1,
                    deadline: self.retrans_deadline(cfg, now, 1),
                });
                out.push(Action::SendAddAddr(opt));
            }
        }
        // Linux: no subflows to the peer's id 0 when it set the C flag; the
        // endpoints are kept for an announced address instead.
        if !peer_deny_join_id0 {
            let remote = self.remote;
            for e in cfg.endpoints() {
                if !e.flags.subflow || e.addr == initial || self.used_endpoints.contains(&e.id) {
                    continue;
                }
                if self.extra >= cfg.limits.subflows {
                    break;
                }
                self.used_endpoints.push(e.id);
                let local = LocalAddr {
                    id: e.id,
                    addr: e.addr,
                };
                out.extend(self.open(cfg, local, remote, 0, e.flags.backup));
            }
        }
        out
    }

    fn retrans_deadline(&self, cfg: &PmConfig, now: Instant, transmissions: u8) -> Option<Instant> {
        let more = transmissions <= cfg.add_addr_retrans_max;
        (more && !cfg.add_addr_timeout.is_zero()).then(|| now + cfg.add_addr_timeout)
    }

    /// ADD_ADDR retransmission timer: resend every announcement whose
    /// deadline passed (and re-arm it while retransmissions remain).
    pub fn on_timer(&mut self, cfg: &PmConfig, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for i in 0..self.announced.len() {
            let a = self.announced[i];
            if a.echoed || a.deadline.is_none_or(|d| d > now) {
                continue;
            }
            let sent = a.transmissions.saturating_add(1);
            let deadline = self.retrans_deadline(cfg, now, sent);
            let opt = self.announce_option(a.id, a.addr, a.port);
            let a = &mut self.announced[i];
            a.transmissions = sent;
            a.deadline = deadline;
            out.extend(opt.map(Action::SendAddAddr));
        }
        out
    }

    /// An ADD_ADDR (E = 0) or its echo (E = 1) arrived. See the module docs
    /// for what is echoed and accepted. Counts `MPTcpExtAddAddr`,
    /// `PortAdd`, `EchoAdd`, and `AddAddrDrop` for an ADD_ADDR ignored for
    /// its HMAC (or before the peer's key is known).
    pub fn on_add_addr(
        &mut self,
        cfg: &PmConfig,
        opt: &AddAddr,
        counters: &mut Counters,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if opt.echo {
            counters.mptcp_echo_add += 1;
            // Linux matches the echo by address and port.
            if let Some(a) = self
                .announced
                .iter_mut()
                .find(|a| a.addr == opt.addr && a.port == opt.port)
            {
                a.echoed = true;
                a.deadline = None;
            }
            return out;
        }
        let valid = self.remote_key.is_some_and(|rk| {
            opt.hmac
                == Some(add_addr_hmac(
                    rk,
                    self.local_key,
                    opt.addr_id,
                    opt.addr,
                    opt.port,
                ))
        });
        if !valid {
            counters.mptcp_add_addr_drop += 1;
            return out;
        }
        counters.mptcp_add_addr += 1;
        if opt.port.is_some() {
            counters.mptcp_port_add += 1;
        }
        out.push(Action::SendEcho(AddAddr {
            echo: true,
            hmac: None,
            ..*opt
        }));
        // Id 0 is the initial address (only echoed); a known id is a
        // retransmission (or an invalid reuse): only echoed.
        if opt.addr_id == 0 || self.remotes.iter().any(|r| r.id == opt.addr_id) {
            return out;
        }
        self.remotes.push(RemoteAddr {
            id: opt.addr_id,
            addr: opt.addr,
            port: opt.port,
            accepted: false,
        });
        let remote = SocketAddr::new(opt.addr, opt.port.unwrap_or(self.remote.port()));
        // Linux `lookup_subflow_by_daddr`: a subflow already goes there.
        if self.subflows.iter().any(|s| {
            s.remote.ip() == remote.ip() && (opt.port.is_none() || s.remote.port() == remote.port())
        }) {
            return out;
        }
        let c_flag_case = self.peer_deny_join_id0
            && self.used_endpoints.is_empty()
            && cfg.limits.add_addr_accepted == 0
            && self.extra < cfg.limits.subflows;
        let accept = self.add_addr_accepted < cfg.limits.add_addr_accepted || c_flag_case;
        if !accept || self.extra >= cfg.limits.subflows {
            return out;
        }
        let initial = self.local.ip();
        let mut sources: Vec<(LocalAddr, bool)> = cfg
            .endpoints()
            .iter()
            .filter(|e| e.flags.fullmesh)
            .map(|e| {
                let id = if e.addr == initial { 0 } else { e.id };
                (LocalAddr { id, addr: e.addr }, e.flags.backup)
            })
            .collect();
        if c_flag_case {
            for &(l, _) in &sources {
                if let Some(e) = cfg.endpoint(l.id) {
                    if e.flags.subflow && !self.used_endpoints.contains(&e.id) {
                        self.used_endpoints.push(e.id);
                    }
                }
            }
        }
        if sources.is_empty() && c_flag_case {
            for e in cfg.endpoints() {
                if e.flags.subflow && e.addr != initial && !self.used_endpoints.contains(&e.id) {
                    self.used_endpoints.push(e.id);
                    let local = LocalAddr {
                        id: e.id,
                        addr: e.addr,
                    };
                    sources.push((local, e.flags.backup));
                }
            }
        } else if sources.is_empty() {
            // Linux leaves the source to routing; we use the initial one.
            let local = LocalAddr {
                id: 0,
                addr: initial,
            };
            sources.push((local, false));
        }
        let before = out.len();
        for (local, backup) in sources {
            out.extend(self.open(cfg, local, remote, opt.addr_id, backup));
        }
        if out.len() > before {
            self.add_addr_accepted = self.add_addr_accepted.saturating_add(1);
            if let Some(r) = self.remotes.iter_mut().find(|r| r.id == opt.addr_id) {
                r.accepted = true;
            }
        }
        out
    }

    /// A REMOVE_ADDR arrived with these ids: forget the addresses and close
    /// the subflows to them. Unknown ids are ignored. Counts
    /// `MPTcpExtRmAddr` once per subflow closed, as Linux does.
    pub fn on_remove_addr(&mut self, ids: &[u8], counters: &mut Counters) -> Vec<Action> {
        let mut out = Vec::new();
        for &id in ids {
            let was_accepted = match self.remotes.iter().position(|r| r.id == id) {
                Some(at) => self.remotes.remove(at).accepted,
                None => false,
            };
            self.subflows.retain(|s| {
                if s.remote_id != id {
                    return true;
                }
                out.push(Action::CloseSubflow {
                    subflow: s.subflow,
                    reason: CloseReason::RemoteAddressRemoved,
                });
                counters.mptcp_rm_addr += 1;
                if s.subflow != PmSubflow::INITIAL {
                    self.extra = self.extra.saturating_sub(1);
                }
                false
            });
            // Only an address whose ADD_ADDR took a slot frees one (Linux
            // "only decrement add_addr_accepted for MPJ req").
            if was_accepted {
                self.add_addr_accepted = self.add_addr_accepted.saturating_sub(1);
            }
        }
        out
    }

    /// Withdraw local address id `id` (its endpoint was deleted): stop
    /// announcing it, close its subflows, and tell the peer (REMOVE_ADDR) if
    /// it was announced or carried subflows. Counts `MPTcpExtRmSubflow` per
    /// subflow closed.
    pub fn remove_local(&mut self, id: u8, counters: &mut Counters) -> Vec<Action> {
        let mut out = Vec::new();
        let announced = match self.announced.iter().position(|a| a.id == id) {
            Some(at) => {
                self.announced.remove(at);
                true
            }
            None => false,
        };
        let mut closed = false;
        self.subflows.retain(|s| {
            if s.local.id != id {
                return true;
            }
            out.push(Action::CloseSubflow {
                subflow: s.subflow,
                reason: CloseReason::LocalAddressRemoved,
            });
            counters.mptcp_rm_subflow += 1;
            if s.subflow != PmSubflow::INITIAL {
                self.extra = self.extra.saturating_sub(1);
            }
            closed = true;
            false
        });
        self.used_endpoints.retain(|&u| u != id);
        if announced || closed {
            if let Ok(rm) = RemoveAddr::new(&[id]) {
                out.insert(0, Action::SendRemoveAddr(rm));
            }
        }
        out
    }

    /// Mark the subflows of local address id `id` as backup or not (after
    /// [`PmConfig::set_backup`]): MP_PRIO on each of them, whose state for
    /// the scheduler follows.
    pub fn set_local_backup(&mut self, id: u8, backup: bool) -> Vec<Action> {
        let mut out = Vec::new();
        for s in self.subflows.iter_mut().filter(|s| s.local.id == id) {
            if s.local_backup == backup {
                continue;
            }
            let was = s.local_backup || s.remote_backup;
            s.local_backup = backup;
            out.push(Action::SendMpPrio {
                subflow: s.subflow,
                backup,
            });
            let now = s.local_backup || s.remote_backup;
            if now != was {
                out.push(Action::SetBackup {
                    subflow: s.subflow,
                    backup: now,
                });
            }
        }
        out
    }

    /// MP_PRIO arrived on subflow `sf`: the peer asks us to treat it as
    /// backup (or no longer). Returns the scheduler change, if any. Counts
    /// `MPTcpExtMPPrioRx`.
    pub fn on_mp_prio(
        &mut self,
        sf: PmSubflow,
        backup: bool,
        counters: &mut Counters,
    ) -> Option<Action> {
        counters.mptcp_mp_prio_rx += 1;
        let s = self.subflows.iter_mut().find(|s| s.subflow == sf)?;
        let was = s.local_backup || s.remote_backup;
        s.remote_backup = backup;
        let now = s.local_backup || s.remote_backup;
        (now != was).then_some(Action::SetBackup {
            subflow: sf,
            backup: now,
        })
    }

    /// A subflow from [`Action::OpenSubflow`] completed its handshake;
    /// `peer_backup` is the B flag of the peer's MP_JOIN SYN/ACK.
    pub fn on_subflow_established(&mut self, sf: PmSubflow, peer_backup: bool) {
        if let Some(s) = self.subflows.iter_mut().find(|s| s.subflow == sf) {
            s.established = true;
            s.remote_backup = peer_backup;
        }
    }

    /// A subflow is gone (closed, reset, or its join failed): it no longer
    /// counts against the `subflows` limit. Its endpoint is not reused
    /// (Linux does not retry either).
    pub fn on_subflow_closed(&mut self, sf: PmSubflow) {
        if let Some(at) = self.subflows.iter().position(|s| s.subflow == sf) {
            self.subflows.remove(at);
            if sf != PmSubflow::INITIAL {
                self.extra = self.extra.saturating_sub(1);
            }
        }
    }

    /// An MP_JOIN SYN with this connection's token arrived at local address
    /// `local_addr`. Refused (MP_TCPRST 0x03) before the connection is fully
    /// established; otherwise answered, even over the `subflows` limit
    /// (checked at the third ACK). Counts `MPTcpExtMPJoinSynRx` and, when
    /// refusing, `MPTcpExtMPJoinRejected`.
    pub fn admit_join_syn(
        &mut self,
        cfg: &PmConfig,
        local_addr: IpAddr,
        counters: &mut Counters,
    ) -> JoinSynVerdict {
        counters.mptcp_mp_join_syn_rx += 1;
        if !self.established || self.remote_key.is_none() {
            counters.mptcp_mp_join_rejected += 1;
            return JoinSynVerdict::Reset(MpTcpRstReason::AdministrativelyProhibited);
        }
        let local_id = self.local_id(cfg, local_addr);
        let backup = cfg
            .endpoint_by_addr(local_addr)
            .is_some_and(|e| e.flags.backup);
        JoinSynVerdict::Answer { local_id, backup }
    }

    /// The third ACK of a join arrived and its HMAC checked out
    /// ([`JoinResponder::on_ack`](super::join::JoinResponder::on_ack)).
    /// Refused (MP_TCPRST 0x03, `MPTcpExtMPJoinRejected`) when the
    /// `subflows` limit is reached.
    pub fn admit_join_ack(
        &mut self,
        cfg: &PmConfig,
        join: &JoinedSubflow,
        counters: &mut Counters,
    ) -> JoinAckVerdict {
        if !self.established || self.extra >= cfg.limits.subflows {
            counters.mptcp_mp_join_rejected += 1;
            return JoinAckVerdict::Reset(MpTcpRstReason::AdministrativelyProhibited);
        }
        let local = LocalAddr {
            id: self.local_id(cfg, join.local_addr),
            addr: join.local_addr,
        };
        let subflow = self.new_subflow_name();
        self.extra += 1;
        self.subflows.push(SubflowInfo {
            subflow,
            local,
            remote: join.remote,
            remote_id: join.remote_id,
            established: true,
            local_backup: join.local_backup,
            remote_backup: join.remote_backup,
        });
        JoinAckVerdict::Accept(subflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp::join::{JoinInitiator, JoinResponder};
    use core::net::{Ipv4Addr, Ipv6Addr};

    // protocol.md §3.5.
    const KA: MptcpKey = MptcpKey(0x0102_0304_0506_0708);
    const KB: MptcpKey = MptcpKey(0x1122_3344_5566_7788);

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn sa(ip: IpAddr, port: u16) -> SocketAddr {
        SocketAddr::new(ip, port)
    }

    const T0: Instant = Instant::from_secs(1000);

    /// Client 10.0.1.1:50000 → server 10.0.1.2:8080.
    fn client() -> PathManager {
        PathManager::new(
            Role::Client,
            sa(v4(10, 0, 1, 1), 50000),
            sa(v4(10, 0, 1, 2), 8080),
            KA,
        )
    }

    fn server() -> PathManager {
        PathManager::new(
            Role::Server,
            sa(v4(10, 0, 1, 2), 8080),
            sa(v4(10, 0, 1, 1), 50000),
            KB,
        )
    }

    /// What the server would send: ADD_ADDR with B's HMAC (B→A).
    fn add_addr_from_b(id: u8, addr: IpAddr, port: Option<u16>) -> AddAddr {
        AddAddr {
            echo: false,
            addr_id: id,
            addr,
            port,
            hmac: Some(add_addr_hmac(KB, KA, id, addr, port)),
        }
    }

    fn opens(actions: &[Action]) -> Vec<OpenSubflow> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::OpenSubflow(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    fn limits(subflows: u8, add_addr_accepted: u8) -> PmConfig {
        PmConfig::new(Limits::new(subflows, add_addr_accepted).unwrap())
    }

    #[test]
    fn limits_and_defaults() {
        let l = Limits::default();
        assert_eq!((l.subflows(), l.add_addr_accepted()), (2, 0));
        assert!(Limits::new(8, 8).is_ok());
        assert_eq!(Limits::new(9, 0), Err(PmError::LimitOutOfRange(9)));
        assert_eq!(Limits::new(0, 9), Err(PmError::LimitOutOfRange(9)));
        let c = PmConfig::default();
        assert_eq!(c.limits, l);
        assert_eq!(c.add_addr_timeout, Duration::from_secs(120));
        assert_eq!(c.add_addr_retrans_max, 3);
        assert!(c.endpoints().is_empty());
    }

    #[test]
    fn endpoint_ids_like_linux() {
        let mut c = PmConfig::default();
        let f = EndpointFlags::SIGNAL;
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 1), None, f), Ok(1));
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 2), None, f), Ok(2));
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 3), Some(7), f), Ok(7));
        // Continues after the highest id handed out, not in the hole.
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 4), None, f), Ok(8));
        // A deleted id below the highest one is not reused at once…
        c.remove_endpoint(2).unwrap();
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 5), None, f), Ok(9));
        // …but the highest one is (the search starts at it, as in Linux).
        c.remove_endpoint(9).unwrap();
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 5), None, f), Ok(9));
        c.add_endpoint(v4(10, 0, 2, 2), Some(2), f).unwrap();
        // Errors.
        assert_eq!(
            c.add_endpoint(v4(10, 0, 2, 1), None, f),
            Err(PmError::DuplicateAddress(v4(10, 0, 2, 1)))
        );
        assert_eq!(
            c.add_endpoint(v4(10, 0, 2, 9), Some(7), f),
            Err(PmError::DuplicateId(7))
        );
        assert_eq!(
            c.add_endpoint(v4(10, 0, 2, 9), Some(0), f),
            Err(PmError::IdZero)
        );
        assert_eq!(
            c.add_endpoint(v4(10, 0, 2, 9), None, f | EndpointFlags::FULLMESH),
            Err(PmError::SignalFullmesh)
        );
        assert_eq!(c.remove_endpoint(42), Err(PmError::UnknownEndpoint(42)));
        // Wrap: after id 255 the search restarts at 1.
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 10), Some(255), f), Ok(255));
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 11), None, f), Ok(3));
        // Sorted by id; at most 8.
        let ids: Vec<u8> = c.endpoints().iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 3, 7, 8, 9, 255]);
        assert_eq!(c.add_endpoint(v4(10, 0, 2, 12), None, f), Ok(4));
        assert_eq!(
            c.add_endpoint(v4(10, 0, 2, 14), None, f),
            Err(PmError::TooManyEndpoints)
        );
        c.set_backup(1, true).unwrap();
        assert!(c.endpoint(1).unwrap().flags.backup);
        assert_eq!(c.set_backup(100, true), Err(PmError::UnknownEndpoint(100)));
        assert_eq!(c.endpoint_by_addr(v4(10, 0, 2, 2)).unwrap().id, 2);
    }

    /// The server announces its `signal` endpoints with the HMAC of
    /// protocol.md §3.5 and retransmits them until echoed.
    #[test]
    fn server_announces_and_retransmits() {
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(v4(10, 0, 2, 2), Some(1), EndpointFlags::SIGNAL)
            .unwrap();
        let v6: IpAddr = IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap());
        cfg.add_endpoint(v6, Some(2), EndpointFlags::SIGNAL)
            .unwrap();
        // The initial address as an endpoint: id 0 here, not announced.
        cfg.add_endpoint(v4(10, 0, 1, 2), Some(3), EndpointFlags::SIGNAL)
            .unwrap();
        let mut s = server();
        assert_eq!(s.next_deadline(), None);
        let acts = s.on_established(&cfg, T0, KA, false);
        assert_eq!(
            acts,
            [
                Action::SendAddAddr(AddAddr {
                    echo: false,
                    addr_id: 1,
                    addr: v4(10, 0, 2, 2),
                    port: None,
                    hmac: Some(0xf1b1_afaa_d28c_6474),
                }),
                Action::SendAddAddr(AddAddr {
                    echo: false,
                    addr_id: 2,
                    addr: v6,
                    port: None,
                    hmac: Some(0x6221_d3d1_144f_bc99),
                }),
            ]
        );
        assert!(s.on_established(&cfg, T0, KA, false).is_empty(), "once");
        assert_eq!(s.local_id(&cfg, v4(10, 0, 1, 2)), 0);
        let t = cfg.add_addr_timeout;
        assert_eq!(s.next_deadline(), Some(T0 + t));
        assert!(s
            .on_timer(&cfg, T0 + t - Duration::from_millis(1))
            .is_empty());
        // The client echoes the IPv6 one.
        let mut c = Counters::new();
        let echo = AddAddr {
            echo: true,
            addr_id: 2,
            addr: v6,
            port: None,
            hmac: None,
        };
        assert!(s.on_add_addr(&cfg, &echo, &mut c).is_empty());
        assert_eq!(c.mptcp_echo_add, 1);
        assert!(s.announcements()[1].echoed);
        // The other is sent 3 more times, 120 s apart, then given up.
        let mut now = T0;
        for n in 2..=4 {
            now += t;
            assert_eq!(s.next_deadline(), Some(now));
            let a = s.on_timer(&cfg, now);
            assert_eq!(a.len(), 1);
            assert!(matches!(a[0], Action::SendAddAddr(o) if o.addr_id == 1));
            assert_eq!(s.announcements()[0].transmissions, n);
        }
        assert_eq!(s.next_deadline(), None);
        assert!(s.on_timer(&cfg, now + t * 10).is_empty());
        // An echo stops the timer.
        let mut s = server();
        s.on_established(&cfg, T0, KA, false);
        let echo = AddAddr {
            echo: true,
            addr_id: 1,
            addr: v4(10, 0, 2, 2),
            port: None,
            hmac: None,
        };
        s.on_add_addr(&cfg, &echo, &mut c);
        assert_eq!(s.next_deadline(), Some(T0 + t), "v6 one still pending");
        // Timeout 0: no retransmission at all.
        let mut cfg0 = cfg.clone();
        cfg0.add_addr_timeout = Duration::ZERO;
        let mut s = server();
        s.on_established(&cfg0, T0, KA, false);
        assert_eq!(s.next_deadline(), None);
    }

    /// protocol.md §3.6: ADD_ADDR id 5 10.0.2.2 from a Linux 6.18 server.
    #[test]
    fn linux_capture_add_addr() {
        let ka = MptcpKey(0x4496_a4c5_0f04_5110);
        let kb = MptcpKey(0x5c6d_8f8b_e9b1_ac6e);
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(v4(10, 0, 2, 2), Some(5), EndpointFlags::SIGNAL)
            .unwrap();
        let mut s = PathManager::new(
            Role::Server,
            sa(v4(10, 0, 1, 2), 8080),
            sa(v4(10, 0, 1, 1), 61262),
            kb,
        );
        let a = s.on_established(&cfg, T0, ka, false);
        assert!(matches!(a[0], Action::SendAddAddr(o) if o.hmac == Some(0xc602_ee74_5bc6_90df)));
        // And the client side verifies it (and, by default, only echoes).
        let mut c = PathManager::new(
            Role::Client,
            sa(v4(10, 0, 1, 1), 61262),
            sa(v4(10, 0, 1, 2), 8080),
            ka,
        );
        c.on_established(&PmConfig::default(), T0, kb, false);
        let Action::SendAddAddr(opt) = a[0] else {
            panic!()
        };
        let mut n = Counters::new();
        let r = c.on_add_addr(&PmConfig::default(), &opt, &mut n);
        assert_eq!(r.len(), 1);
        assert!(
            matches!(r[0], Action::SendEcho(e) if e.echo && e.hmac.is_none() && e.addr_id == 5)
        );
        assert_eq!(n.mptcp_add_addr, 1);
    }

    #[test]
    fn client_opens_subflow_endpoints() {
        let mut cfg = PmConfig::default(); // subflows 2
        cfg.add_endpoint(v4(10, 0, 2, 1), None, EndpointFlags::SUBFLOW)
            .unwrap();
        cfg.add_endpoint(
            v4(10, 0, 3, 1),
            None,
            EndpointFlags::SUBFLOW | EndpointFlags::BACKUP,
        )
        .unwrap();
        cfg.add_endpoint(v4(10, 0, 4, 1), None, EndpointFlags::SUBFLOW)
            .unwrap();
        // The initial address as an endpoint is not used again.
        cfg.add_endpoint(v4(10, 0, 1, 1), Some(9), EndpointFlags::SUBFLOW)
            .unwrap();
        let mut c = client();
        let a = c.on_established(&cfg, T0, KB, false);
        let o = opens(&a);
        assert_eq!(o.len(), 2, "subflows limit 2");
        assert_eq!(
            o[0],
            OpenSubflow {
                subflow: PmSubflow(1),
                local: LocalAddr {
                    id: 1,
                    addr: v4(10, 0, 2, 1)
                },
                remote: sa(v4(10, 0, 1, 2), 8080),
                remote_id: 0,
                backup: false,
            }
        );
        assert_eq!(o[1].local.id, 2);
        assert!(o[1].backup);
        assert_eq!(c.extra_subflows(), 2);
        assert!(c.is_backup(o[1].subflow));
        assert!(!c.subflow(o[0].subflow).unwrap().established);
        c.on_subflow_established(o[0].subflow, false);
        assert!(c.subflow(o[0].subflow).unwrap().established);
        // Peer's SYN/ACK asked for backup.
        c.on_subflow_established(o[1].subflow, true);
        assert!(c.subflow(o[1].subflow).unwrap().remote_backup);
        assert!(c.on_established(&cfg, T0, KB, false).is_empty());
        // A failed join frees its slot (the endpoint is not retried).
        c.on_subflow_closed(o[0].subflow);
        assert_eq!(c.extra_subflows(), 1);
        assert_eq!(c.subflows().len(), 2);
        // With limit 0 nothing is opened.
        let mut cfg0 = cfg.clone();
        cfg0.limits = Limits::new(0, 0).unwrap();
        let mut c = client();
        assert!(c.on_established(&cfg0, T0, KB, false).is_empty());
    }

    /// C flag: no subflow to the server's initial address; with default
    /// limits (add_addr_accepted 0) one ADD_ADDR is accepted anyway and the
    /// `subflow` endpoints connect to it (Linux 6.18's special case).
    #[test]
    fn deny_join_id0() {
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(v4(10, 0, 2, 1), None, EndpointFlags::SUBFLOW)
            .unwrap();
        cfg.add_endpoint(v4(10, 0, 3, 1), None, EndpointFlags::SUBFLOW)
            .unwrap();
        cfg.add_endpoint(v4(10, 0, 4, 1), None, EndpointFlags::SUBFLOW)
            .unwrap();
        let mut c = client();
        assert!(c.on_established(&cfg, T0, KB, true).is_empty());
        assert!(c.peer_deny_join_id0());
        let mut n = Counters::new();
        let a = c.on_add_addr(&cfg, &add_addr_from_b(1, v4(10, 0, 9, 2), None), &mut n);
        assert!(matches!(a[0], Action::SendEcho(_)));
        let o = opens(&a);
        assert_eq!(o.len(), 2, "within the subflows limit");
        for (i, o) in o.iter().enumerate() {
            assert_eq!(o.local.id, i as u8 + 1);
            assert_eq!(o.remote, sa(v4(10, 0, 9, 2), 8080));
            assert_eq!(o.remote_id, 1);
        }
        // A second announcement is only echoed.
        let mut cfg8 = cfg.clone();
        cfg8.limits = Limits::new(8, 0).unwrap();
        let a = c.on_add_addr(&cfg8, &add_addr_from_b(2, v4(10, 0, 9, 3), None), &mut n);
        assert_eq!(a.len(), 1);
        // Without the C flag the same config ignores announcements.
        let mut c = client();
        assert_eq!(opens(&c.on_established(&cfg8, T0, KB, false)).len(), 3);
        let a = c.on_add_addr(&cfg8, &add_addr_from_b(1, v4(10, 0, 9, 2), None), &mut n);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn add_addr_echo_and_accept_rules() {
        let mut n = Counters::new();
        // Default limits: a Linux client only echoes.
        let cfg = PmConfig::default();
        let mut c = client();
        // Before the keys are known: cannot verify, ignored.
        let opt = add_addr_from_b(1, v4(10, 0, 2, 2), None);
        assert!(c.on_add_addr(&cfg, &opt, &mut n).is_empty());
        assert_eq!(n.mptcp_add_addr_drop, 1);
        c.on_established(&cfg, T0, KB, false);
        let a = c.on_add_addr(&cfg, &opt, &mut n);
        assert_eq!(
            a,
            [Action::SendEcho(AddAddr {
                echo: true,
                addr_id: 1,
                addr: v4(10, 0, 2, 2),
                port: None,
                hmac: None
            })]
        );
        assert_eq!(n.mptcp_add_addr, 1);
        assert_eq!(c.remote_addrs().len(), 1);
        assert!(!c.remote_addrs()[0].accepted);
        // Bad HMAC: silently ignored (no echo).
        let mut bad = add_addr_from_b(2, v4(10, 0, 3, 2), None);
        bad.hmac = Some(bad.hmac.unwrap() ^ 1);
        assert!(c.on_add_addr(&cfg, &bad, &mut n).is_empty());
        // HMAC of the wrong direction (A→B) is wrong too.
        let mut wrong = bad;
        wrong.hmac = Some(add_addr_hmac(KA, KB, 2, v4(10, 0, 3, 2), None));
        assert!(c.on_add_addr(&cfg, &wrong, &mut n).is_empty());
        assert_eq!(n.mptcp_add_addr_drop, 3);

        // add_addr_accepted 1: the first new address gets a subflow.
        let cfg = limits(2, 1);
        let mut c = client();
        c.on_established(&cfg, T0, KB, false);
        let with_port = add_addr_from_b(1, v4(10, 0, 2, 2), Some(8080));
        assert_eq!(with_port.hmac, Some(0x5d32_9c25_d484_79ba));
        let a = c.on_add_addr(&cfg, &with_port, &mut n);
        assert_eq!(n.mptcp_port_add, 1);
        assert!(matches!(a[0], Action::SendEcho(e) if e.port == Some(8080)));
        let o = opens(&a);
        assert_eq!(o.len(), 1);
        assert_eq!(
            o[0].local,
            LocalAddr {
                id: 0,
                addr: v4(10, 0, 1, 1)
            }
        );
        assert_eq!(o[0].remote, sa(v4(10, 0, 2, 2), 8080));
        assert_eq!(c.add_addr_accepted(), 1);
        assert!(c.remote_addrs()[0].accepted);
        // Retransmission of the same announcement: echoed, nothing more.
        assert_eq!(c.on_add_addr(&cfg, &with_port, &mut n).len(), 1);
        // Over add_addr_accepted: echoed only.
        let a = c.on_add_addr(&cfg, &add_addr_from_b(2, v4(10, 0, 3, 2), None), &mut n);
        assert_eq!(a.len(), 1);
        // Id 0 (even with another address): echoed only.
        let a = c.on_add_addr(
            &limits(8, 8),
            &add_addr_from_b(0, v4(10, 0, 5, 2), None),
            &mut n,
        );
        assert_eq!(a.len(), 1);

        // No port: the subflow goes to the initial subflow's port.
        let cfg = limits(2, 2);
        let mut c = client();
        c.on_established(&cfg, T0, KB, false);
        let o = opens(&c.on_add_addr(&cfg, &add_addr_from_b(4, v4(10, 0, 6, 2), None), &mut n));
        assert_eq!(o[0].remote, sa(v4(10, 0, 6, 2), 8080));
        // An address a subflow already goes to is not joined again (and
        // takes no slot).
        let a = c.on_add_addr(&cfg, &add_addr_from_b(5, v4(10, 0, 1, 2), None), &mut n);
        assert_eq!(a.len(), 1);
        assert_eq!(c.add_addr_accepted(), 1);
        // No subflow across address families.
        let v6 = IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap());
        let a = c.on_add_addr(&cfg, &add_addr_from_b(6, v6, None), &mut n);
        assert_eq!(a.len(), 1);
        assert_eq!(c.add_addr_accepted(), 1);
        // The subflows limit also applies.
        let cfg = limits(0, 8);
        let mut c = client();
        c.on_established(&cfg, T0, KB, false);
        let a = c.on_add_addr(&cfg, &add_addr_from_b(1, v4(10, 0, 2, 2), None), &mut n);
        assert_eq!(a.len(), 1);
        assert_eq!(c.add_addr_accepted(), 0);
    }

    #[test]
    fn fullmesh_endpoints_join_announced_addresses() {
        let mut cfg = limits(8, 2);
        cfg.add_endpoint(v4(10, 0, 2, 1), None, EndpointFlags::FULLMESH)
            .unwrap();
        cfg.add_endpoint(
            v4(10, 0, 3, 1),
            None,
            EndpointFlags::FULLMESH | EndpointFlags::SUBFLOW | EndpointFlags::BACKUP,
        )
        .unwrap();
        let mut c = client();
        // The `subflow` one goes to the initial address.
        let o = opens(&c.on_established(&cfg, T0, KB, false));
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].local.id, 2);
        let mut n = Counters::new();
        let o = opens(&c.on_add_addr(&cfg, &add_addr_from_b(1, v4(10, 0, 9, 2), None), &mut n));
        let froms: Vec<(u8, bool)> = o.iter().map(|o| (o.local.id, o.backup)).collect();
        assert_eq!(froms, [(1, false), (2, true)]);
        assert!(o.iter().all(|o| o.remote == sa(v4(10, 0, 9, 2), 8080)));
        assert_eq!(c.extra_subflows(), 3);
        assert_eq!(c.add_addr_accepted(), 1);
    }

    #[test]
    fn remove_addr_received() {
        let cfg = limits(4, 1);
        let mut c = client();
        c.on_established(&cfg, T0, KB, false);
        let mut n = Counters::new();
        let o = opens(&c.on_add_addr(&cfg, &add_addr_from_b(3, v4(10, 0, 2, 2), None), &mut n));
        assert_eq!(c.add_addr_accepted(), 1);
        // Limit reached: another address is only echoed.
        assert_eq!(
            c.on_add_addr(&cfg, &add_addr_from_b(4, v4(10, 0, 3, 2), None), &mut n)
                .len(),
            1
        );
        // Unknown ids are ignored.
        assert!(c.on_remove_addr(&[9, 10], &mut n).is_empty());
        let a = c.on_remove_addr(&[3], &mut n);
        assert_eq!(
            a,
            [Action::CloseSubflow {
                subflow: o[0].subflow,
                reason: CloseReason::RemoteAddressRemoved
            }]
        );
        assert_eq!(n.mptcp_rm_addr, 1);
        assert_eq!(c.extra_subflows(), 0);
        assert_eq!(c.add_addr_accepted(), 0, "slot freed");
        assert!(c.remote_addrs().iter().all(|r| r.id != 3));
        // So a new announcement is accepted again.
        let o = opens(&c.on_add_addr(&cfg, &add_addr_from_b(5, v4(10, 0, 5, 2), None), &mut n));
        assert_eq!(o.len(), 1);
        // Id 0 removes the initial subflow.
        let a = c.on_remove_addr(&[0], &mut n);
        assert_eq!(
            a,
            [Action::CloseSubflow {
                subflow: PmSubflow::INITIAL,
                reason: CloseReason::RemoteAddressRemoved
            }]
        );
        assert_eq!(c.extra_subflows(), 1);
        assert_eq!(c.subflows().len(), 1);
    }

    #[test]
    fn remove_local_address() {
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(v4(10, 0, 2, 2), Some(1), EndpointFlags::SIGNAL)
            .unwrap();
        cfg.add_endpoint(v4(10, 0, 3, 1), Some(2), EndpointFlags::SUBFLOW)
            .unwrap();
        cfg.add_endpoint(v4(10, 0, 4, 1), Some(3), EndpointFlags::NONE)
            .unwrap();
        let mut c = client();
        let o = opens(&c.on_established(&cfg, T0, KB, false));
        assert_eq!(o.len(), 1);
        let mut n = Counters::new();
        // Announced: REMOVE_ADDR, timer stopped.
        let a = c.remove_local(1, &mut n);
        assert_eq!(a, [Action::SendRemoveAddr(RemoveAddr::new(&[1]).unwrap())]);
        assert!(c.announcements().is_empty());
        assert_eq!(c.next_deadline(), None);
        // Carrying a subflow: REMOVE_ADDR and close it.
        let a = c.remove_local(2, &mut n);
        assert_eq!(
            a,
            [
                Action::SendRemoveAddr(RemoveAddr::new(&[2]).unwrap()),
                Action::CloseSubflow {
                    subflow: o[0].subflow,
                    reason: CloseReason::LocalAddressRemoved
                }
            ]
        );
        assert_eq!(n.mptcp_rm_subflow, 1);
        assert_eq!(c.extra_subflows(), 0);
        // Unused: nothing to tell.
        assert!(c.remove_local(3, &mut n).is_empty());
    }

    #[test]
    fn mp_prio() {
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(v4(10, 0, 2, 1), Some(1), EndpointFlags::SUBFLOW)
            .unwrap();
        let mut c = client();
        let sf = opens(&c.on_established(&cfg, T0, KB, false))[0].subflow;
        c.on_subflow_established(sf, false);
        assert!(!c.is_backup(sf));
        // `ip mptcp endpoint change id 1 backup`.
        cfg.set_backup(1, true).unwrap();
        let a = c.set_local_backup(1, true);
        assert_eq!(
            a,
            [
                Action::SendMpPrio {
                    subflow: sf,
                    backup: true
                },
                Action::SetBackup {
                    subflow: sf,
                    backup: true
                }
            ]
        );
        assert!(c.is_backup(sf));
        assert!(c.set_local_backup(1, true).is_empty(), "no change");
        // The peer also asks for backup: no scheduler change.
        let mut n = Counters::new();
        assert_eq!(c.on_mp_prio(sf, true, &mut n), None);
        // We withdraw ours: still backup because the peer wants it.
        let a = c.set_local_backup(1, false);
        assert_eq!(
            a,
            [Action::SendMpPrio {
                subflow: sf,
                backup: false
            }]
        );
        assert!(c.is_backup(sf));
        // The peer withdraws: regular again.
        assert_eq!(
            c.on_mp_prio(sf, false, &mut n),
            Some(Action::SetBackup {
                subflow: sf,
                backup: false
            })
        );
        assert_eq!(n.mptcp_mp_prio_rx, 2);
        // MP_PRIO on the initial subflow.
        assert_eq!(
            c.on_mp_prio(PmSubflow::INITIAL, true, &mut n),
            Some(Action::SetBackup {
                subflow: PmSubflow::INITIAL,
                backup: true
            })
        );
        assert_eq!(c.on_mp_prio(PmSubflow(99), true, &mut n), None);
    }

    #[test]
    fn initial_address_backup_endpoint() {
        let mut cfg = PmConfig::default();
        cfg.add_endpoint(
            v4(10, 0, 1, 1),
            None,
            EndpointFlags::SUBFLOW | EndpointFlags::BACKUP,
        )
        .unwrap();
        let mut c = client();
        let a = c.on_established(&cfg, T0, KB, false);
        assert_eq!(
            a,
            [
                Action::SendMpPrio {
                    subflow: PmSubflow::INITIAL,
                    backup: true
                },
                Action::SetBackup {
                    subflow: PmSubflow::INITIAL,
                    backup: true
                }
            ]
        );
        assert!(c.is_backup(PmSubflow::INITIAL));
        assert_eq!(c.extra_subflows(), 0);
    }

    fn joined(local: IpAddr, remote_ip: IpAddr, remote_id: u8) -> JoinedSubflow {
        JoinedSubflow {
            local_addr: local,
            remote: sa(remote_ip, 40000),
            remote_id,
            local_backup: false,
            remote_backup: false,
        }
    }

    #[test]
    fn join_admission() {
        let mut cfg = PmConfig::default(); // subflows 2
        cfg.add_endpoint(
            v4(10, 0, 2, 2),
            Some(4),
            EndpointFlags::SIGNAL | EndpointFlags::BACKUP,
        )
        .unwrap();
        let mut s = server();
        let mut n = Counters::new();
        // Not fully established (client key unknown): refused at the SYN.
        assert_eq!(
            s.admit_join_syn(&cfg, v4(10, 0, 1, 2), &mut n),
            JoinSynVerdict::Reset(MpTcpRstReason::AdministrativelyProhibited)
        );
        assert_eq!(n.mptcp_mp_join_syn_rx, 1);
        assert_eq!(n.mptcp_mp_join_rejected, 1);
        s.on_established(&cfg, T0, KA, false);
        // Answered; id and backup of the address the SYN came to.
        assert_eq!(
            s.admit_join_syn(&cfg, v4(10, 0, 1, 2), &mut n),
            JoinSynVerdict::Answer {
                local_id: 0,
                backup: false
            }
        );
        assert_eq!(
            s.admit_join_syn(&cfg, v4(10, 0, 2, 2), &mut n),
            JoinSynVerdict::Answer {
                local_id: 4,
                backup: true
            }
        );
        // An address that is no endpoint gets an implicit id, stable.
        let other = v4(10, 0, 7, 2);
        let JoinSynVerdict::Answer { local_id, .. } = s.admit_join_syn(&cfg, other, &mut n) else {
            panic!()
        };
        assert_eq!(local_id, 1);
        assert_eq!(s.local_id(&cfg, other), 1);
        assert_eq!(s.local_id(&cfg, v4(10, 0, 8, 2)), 2);
        // Two joins fit the limit.
        let mut subs = Vec::new();
        for i in 0..2 {
            let v = s.admit_join_ack(
                &cfg,
                &joined(v4(10, 0, 2, 2), v4(10, 0, 3, 1 + i), 1 + i),
                &mut n,
            );
            let JoinAckVerdict::Accept(sf) = v else {
                panic!("{v:?}")
            };
            subs.push(sf);
        }
        assert_eq!(s.extra_subflows(), 2);
        // Over the limit: the SYN is still answered, the third ACK reset.
        assert!(matches!(
            s.admit_join_syn(&cfg, v4(10, 0, 1, 2), &mut n),
            JoinSynVerdict::Answer { .. }
        ));
        assert_eq!(
            s.admit_join_ack(&cfg, &joined(v4(10, 0, 1, 2), v4(10, 0, 4, 1), 3), &mut n),
            JoinAckVerdict::Reset(MpTcpRstReason::AdministrativelyProhibited)
        );
        assert_eq!(n.mptcp_mp_join_rejected, 2);
        assert_eq!(u8::from(MpTcpRstReason::AdministrativelyProhibited), 0x03);
        // A closed subflow frees a slot.
        s.on_subflow_closed(subs[0]);
        assert!(matches!(
            s.admit_join_ack(&cfg, &joined(v4(10, 0, 1, 2), v4(10, 0, 4, 1), 3), &mut n),
            JoinAckVerdict::Accept(_)
        ));
        // The client's REMOVE_ADDR of its id 2 closes the join from it.
        let a = s.on_remove_addr(&[2], &mut n);
        assert_eq!(
            a,
            [Action::CloseSubflow {
                subflow: subs[1],
                reason: CloseReason::RemoteAddressRemoved
            }]
        );
        // Unknown token.
        let mut n = Counters::new();
        assert_eq!(
            join_syn_unknown_token(&mut n),
            JoinSynVerdict::Reset(MpTcpRstReason::MptcpError)
        );
        assert_eq!(n.mptcp_mp_join_syn_rx, 1);
        assert_eq!(n.mptcp_mp_join_no_token_found, 1);
    }

    #[test]
    fn tx_counters() {
        let mut n = Counters::new();
        let add = add_addr_from_b(1, v4(10, 0, 2, 2), None);
        for a in [
            Action::SendAddAddr(add),
            Action::SendEcho(AddAddr {
                echo: true,
                hmac: None,
                ..add
            }),
            Action::SendRemoveAddr(RemoveAddr::new(&[1]).unwrap()),
            Action::SendMpPrio {
                subflow: PmSubflow(1),
                backup: true,
            },
            Action::CloseSubflow {
                subflow: PmSubflow(1),
                reason: CloseReason::LocalAddressRemoved,
            },
        ] {
            a.count_tx(&mut n);
        }
        assert_eq!(
            (
                n.mptcp_add_addr_tx,
                n.mptcp_echo_add_tx,
                n.mptcp_rm_addr_tx,
                n.mptcp_mp_prio_tx
            ),
            (1, 1, 1, 1)
        );
    }

    /// A client and a server path manager talking: the server announces
    /// 10.0.2.2, the client (add_addr_accepted 1) echoes it and joins it,
    /// the join handshake checks out and the server admits it.
    #[test]
    fn client_server_exchange() {
        let mut scfg = PmConfig::default();
        scfg.add_endpoint(v4(10, 0, 2, 2), None, EndpointFlags::SIGNAL)
            .unwrap();
        let ccfg = limits(2, 1);
        let mut s = server();
        let mut c = client();
        let mut sn = Counters::new();
        let mut cn = Counters::new();
        let announce = s.on_established(&scfg, T0, KA, false);
        c.on_established(&ccfg, T0, KB, false);
        let Action::SendAddAddr(opt) = announce[0] else {
            panic!()
        };
        announce[0].count_tx(&mut sn);
        let reply = c.on_add_addr(&ccfg, &opt, &mut cn);
        let Action::SendEcho(echo) = reply[0] else {
            panic!()
        };
        assert!(s.on_add_addr(&scfg, &echo, &mut sn).is_empty());
        assert_eq!(s.next_deadline(), None);
        let open = opens(&reply)[0];
        // The join: SYN from the client's id-0 address to 10.0.2.2:8080.
        let init = JoinInitiator::new(KA, KB, 0x1111_2222, open.local.id, open.backup);
        let syn = init.syn_option();
        let JoinSynVerdict::Answer { local_id, backup } =
            s.admit_join_syn(&scfg, open.remote.ip(), &mut sn)
        else {
            panic!()
        };
        assert_eq!(local_id, 1);
        let resp = JoinResponder::on_syn(KB, KA, &syn, 0x3333_4444, local_id, backup).unwrap();
        let info = init
            .on_synack(Some(&resp.synack_option()), &mut cn)
            .unwrap();
        assert_eq!(info.peer_addr_id, 1);
        resp.on_ack(Some(&info.ack), &mut sn).unwrap();
        let v = s.admit_join_ack(
            &scfg,
            &JoinedSubflow {
                local_addr: open.remote.ip(),
                remote: sa(open.local.addr, 50001),
                remote_id: resp.peer_addr_id(),
                local_backup: backup,
                remote_backup: resp.peer_backup(),
            },
            &mut sn,
        );
        assert!(matches!(v, JoinAckVerdict::Accept(PmSubflow(1))));
        c.on_subflow_established(open.subflow, info.peer_backup);
        assert_eq!(c.subflows().len(), 2);
        assert_eq!(s.subflows().len(), 2);
        assert_eq!(s.subflows()[1].local.id, 1);
        assert_eq!(sn.mptcp_add_addr_tx, 1);
        assert_eq!(sn.mptcp_echo_add, 1);
        assert_eq!(cn.mptcp_add_addr, 1);
        assert_eq!(sn.mptcp_mp_join_ack_rx, 1);
        assert_eq!(cn.mptcp_mp_join_synack_rx, 1);
    }
}
