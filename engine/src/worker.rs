//! The per-core run-to-completion loop: one stack, the ports it polls and
//! the application it serves.
//!
//! Owns: one iteration of the poll loop (refill the buffer cache, receive a
//! burst per port, hand events to the application, run timers, transmit),
//! generic over the port type so nothing is dispatched dynamically per
//! packet. The same loop runs on DPDK ports, on the in-memory link of the
//! benchmark and in the scenario tests.

use mptfo_nic::Port;

use crate::stack::{Event, Stack};
use crate::time::Instant;

/// What runs on top of a stack: serve, loadgen, tests. The stack calls
/// nothing; the worker hands each event over after the stack is done with
/// the packet that caused it.
pub trait App<P: Port> {
    /// One event of the stack.
    fn on_event(&mut self, stack: &mut Stack<P::Buf>, event: Event<P::Buf>);

    /// Called once per loop iteration after the events (open new
    /// connections, pace load).
    fn on_poll(&mut self, _stack: &mut Stack<P::Buf>, _now: Instant) {}
}

/// Frames asked for per `rx_burst`.
pub const RX_BURST: usize = 32;

/// Buffers the stack keeps at hand for frames and written data.
pub const BUFFER_CACHE: usize = 512;

/// The buffer cache is topped up only once it fell this far below
/// [`BUFFER_CACHE`]: a loop with little traffic pays one comparison per
/// refill point, and the buffers it takes come in runs. One receive burst
/// leaves well over `BUFFER_CACHE - REFILL_SLACK` at hand.
const REFILL_SLACK: usize = RX_BURST;

/// Most receive bursts per port in one iteration (keeps the loop's latency
/// bounded under load).
const MAX_BURSTS_PER_POLL: usize = 8;

/// One core's worker: its stack, its ports (one queue pair each) and the
/// application.
pub struct Worker<P: Port, A: App<P>> {
    /// The stack.
    pub stack: Stack<P::Buf>,
    /// Ports by interface index (`Interface` `i` of the stack is port `i`).
    pub ports: Vec<P>,
    /// The application.
    pub app: A,
    rx: Vec<P::Buf>,
    tx: Vec<P::Buf>,
    /// Frames the ports did not accept yet, per port.
    backlog: Vec<Vec<P::Buf>>,
    /// Some port's backlog holds frames (the last transmit left some).
    backlogged: bool,
}

impl<P: Port, A: App<P>> Worker<P, A> {
    /// A worker over `ports` (one per interface of `stack`).
    pub fn new(stack: Stack<P::Buf>, ports: Vec<P>, app: A) -> Self {
        let backlog = ports.iter().map(|_| Vec::new()).collect();
        Worker {
            stack,
            ports,
            app,
            rx: Vec::with_capacity(RX_BURST),
            tx: Vec::with_capacity(RX_BURST),
            backlog,
            backlogged: false,
        }
    }

    /// Tops the stack's buffer cache up from the first port's pool, once
    /// it fell [`REFILL_SLACK`] below [`BUFFER_CACHE`] (or a write waits
    /// for buffers).
    #[inline(always)]
    fn refill(&mut self) {
        if self.stack.cached_buffers() <= BUFFER_CACHE - REFILL_SLACK || self.stack.buffer_waiting()
        {
            self.top_up();
        }
    }

    #[inline(never)]
    fn top_up(&mut self) {
        if let Some(p) = self.ports.first_mut() {
            self.stack.refill(BUFFER_CACHE, || p.alloc());
        }
    }

    fn deliver_events(&mut self) {
        while let Some(ev) = self.stack.poll_event() {
            self.app.on_event(&mut self.stack, ev);
        }
    }

    /// One iteration at time `now`. Returns the number of frames received.
    pub fn poll(&mut self, now: Instant) -> usize {
        let mut received = 0;
        for i in 0..self.ports.len() {
            for _ in 0..MAX_BURSTS_PER_POLL {
                // Every received segment may need buffers for replies and
                // the application's writes: top the cache up per burst.
                self.refill();
                let n = self.ports[i].rx_burst(&mut self.rx, RX_BURST);
                if n == 0 {
                    break;
                }
                received += n;
                self.stack.receive(now, i, &mut self.rx);
                self.deliver_events();
                if n < RX_BURST {
                    break;
                }
            }
        }
        self.refill();
        self.stack.advance(now);
        self.deliver_events();
        self.refill();
        self.app.on_poll(&mut self.stack, now);
        self.deliver_events();
        self.transmit();
        received
    }

    /// Hands the stack's frames to the ports. The stack's interfaces map
    /// to ports by index: each frame goes out on the port of the interface
    /// it was built for (the subflow's), port 0 for an interface without a
    /// port of its own.
    fn transmit(&mut self) {
        if self.stack.tx_pending() == 0 && !self.backlogged {
            return;
        }
        if self.ports.is_empty() {
            self.stack.take_tx(&mut self.tx);
            self.tx.clear();
            return;
        }
        if let [backlog] = self.backlog.as_mut_slice() {
            // One port: every frame goes out on it.
            self.stack.take_tx(backlog);
        } else {
            self.stack.take_tx_per_iface(&mut self.backlog);
        }
        let mut left = false;
        for (port, backlog) in self.ports.iter_mut().zip(self.backlog.iter_mut()) {
            if !backlog.is_empty() {
                port.tx_burst(backlog);
                left |= !backlog.is_empty();
            }
        }
        self.backlogged = left;
    }

    /// The earliest time this worker has something to do on its own
    /// (timers); received frames are the ports' business.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.stack.next_deadline()
    }
}
