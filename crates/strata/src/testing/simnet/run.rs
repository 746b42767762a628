//! The run loop of a [`SimNet`]: stepping and running under virtual time,
//! delivering arrivals and deadlines, routing each node's transmits
//! through the tamper hook and the links, and the trace.

use super::*;

impl SimNet {
    /// Does the work of the next instant: sends what nodes queued now, or
    /// else jumps to the next event and delivers its arrivals (one batch per
    /// node) and fires the deadlines due. False when nothing can happen.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// assert!(net.step()); // a sends the ping (at 0 ms)
    /// assert!(net.step()); // it arrives at b, which queues the echo (10 ms)
    /// assert_eq!(net.elapsed(), Duration::from_millis(10));
    /// while net.step() {}
    /// assert_eq!(net.elapsed(), Duration::from_millis(20));
    /// assert!(!net.step()); // nothing can happen any more
    /// ```
    pub fn step(&mut self) -> bool {
        self.start();
        if self.round() {
            return true;
        }
        match self.next_event() {
            None => false,
            Some(t) => {
                self.jump_to(t);
                self.round();
                true
            }
        }
    }

    /// Runs for at most `limit` of virtual time. Stops when every node
    /// finished, when nothing can happen any more, or at the limit.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// assert_eq!(net.run(Duration::from_millis(15)), RunOutcome::Limit);
    /// assert_eq!(net.elapsed(), Duration::from_millis(15));
    /// assert_eq!(net.run(Duration::from_secs(1)), RunOutcome::Idle);
    /// assert_eq!(net.elapsed(), Duration::from_millis(20));
    /// ```
    pub fn run(&mut self, limit: Duration) -> RunOutcome {
        let target = self.now + limit;
        self.run_to(target, true, &mut |_| false)
    }

    /// Like [`run`](SimNet::run), and also stops (with
    /// [`RunOutcome::Reached`]) as soon as `pred` holds after an instant.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// let out = net.run_until(Duration::from_secs(1), |n| n.link_stats(a, b).unwrap().delivered == 1);
    /// assert_eq!(out, RunOutcome::Reached);
    /// assert_eq!(net.elapsed(), Duration::from_millis(10)); // the echo is still on its way
    /// assert_eq!(net.in_flight(), 1);
    /// ```
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&SimNet) -> bool,
    ) -> RunOutcome {
        let target = self.now + limit;
        self.run_to(target, true, &mut pred)
    }

    /// Moves the clock forward by exactly `d`, doing everything due on the
    /// way. Returns [`RunOutcome::Limit`] (or [`RunOutcome::Spinning`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// assert_eq!(net.advance(Duration::from_secs(1)), RunOutcome::Limit);
    /// assert_eq!(net.elapsed(), Duration::from_secs(1)); // past the last event, to the end
    /// assert_eq!(net.link_stats(b, a).unwrap().delivered, 1);
    /// ```
    pub fn advance(&mut self, d: Duration) -> RunOutcome {
        let target = self.now + d;
        self.run_to(target, false, &mut |_| false)
    }

    /// The next time something happens: an arrival or a node's deadline.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};
    /// # use strata::testing::{LinkConfig, RunOutcome, SimNet};
    /// # use strata::testing::{DatagramEcho as Echo, Ping};
    /// # let strata::testing::PingEcho { mut net, a, b, a_addr, b_addr } = strata::testing::PingEcho::new();
    /// net.start();
    /// assert!(net.step()); // the ping is sent
    /// assert_eq!(net.next_event(), Some(net.now() + Duration::from_millis(10)));
    /// net.run(Duration::from_secs(1));
    /// assert_eq!(net.next_event(), None);
    /// ```
    pub fn next_event(&self) -> Option<Instant> {
        let arrival = self.flights.peek().map(|f| f.0.at);
        let deadline = self
            .nodes
            .iter()
            .filter_map(|n| Some(skew::world(n.stack.as_ref()?.next_deadline()?, n.skew_ns)))
            .min();
        match (arrival, deadline) {
            (Some(a), Some(d)) => Some(a.min(d)),
            (a, d) => a.or(d),
        }
    }

    fn run_to(
        &mut self,
        target: Instant,
        stop_early: bool,
        pred: &mut dyn FnMut(&SimNet) -> bool,
    ) -> RunOutcome {
        self.start();
        let mut rounds = 0;
        loop {
            while self.round() {
                rounds += 1;
                if rounds > MAX_ROUNDS_PER_INSTANT {
                    return RunOutcome::Spinning;
                }
            }
            if pred(self) {
                return RunOutcome::Reached;
            }
            let done = !self.nodes.is_empty()
                && self
                    .nodes
                    .iter()
                    .all(|n| n.stack.as_ref().is_some_and(|s| s.finished().is_some()));
            if stop_early && done {
                return RunOutcome::Finished;
            }
            match self.next_event() {
                None if stop_early => return RunOutcome::Idle,
                Some(t) if t <= target => {
                    if t > self.now {
                        rounds = 0;
                    } else {
                        rounds += 1;
                        if rounds > MAX_ROUNDS_PER_INSTANT {
                            return RunOutcome::Spinning;
                        }
                    }
                    self.jump_to(t);
                }
                _ => {
                    self.now = self.now.max(target);
                    return RunOutcome::Limit;
                }
            }
        }
    }

    /// Moves the clock to `t`, delivers the arrivals due (one batch per
    /// node, nodes by id) and fires the deadlines due.
    fn jump_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
        let now = self.now;
        let mut batches: BTreeMap<NodeId, Vec<Flight>> = BTreeMap::new();
        while self.flights.peek().is_some_and(|f| f.0.at <= now) {
            if let Some(Reverse(f)) = self.flights.pop() {
                batches.entry(f.to).or_default().push(f);
            }
        }
        for (to, flights) in batches {
            let Some(dst) = self.addr(to) else {
                continue;
            };
            let mut batch = Vec::with_capacity(flights.len());
            for f in &flights {
                let kind = if f.injected {
                    SimEventKind::Injected
                } else {
                    if let Some(link) = self.links.get_mut(&(f.from, f.to)) {
                        link.record_delivered();
                    }
                    SimEventKind::Delivered
                };
                self.record(f.from, Some(to), kind, &f.payload);
                batch.push(Datagram {
                    source: Some(f.source),
                    dst_ip: Some(dst.ip()),
                    ecn: f.ecn,
                    data: &f.payload,
                });
            }
            let node = &mut self.nodes[to.0 as usize];
            if let Some(stack) = node.stack.as_mut() {
                stack.handle_datagrams(skew::local(now, node.skew_ns), &batch);
            }
        }
        for node in &mut self.nodes {
            let skew_ns = node.skew_ns;
            if let Some(s) = node.stack.as_mut()
                && s.next_deadline()
                    .is_some_and(|d| skew::world(d, skew_ns) <= now)
            {
                s.handle_timeout(skew::local(now, skew_ns));
            }
        }
    }

    /// Delivers wakes and sends what the nodes queued; true if anything.
    pub(super) fn round(&mut self) -> bool {
        let mut progress = false;
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            let now = skew::local(self.now, node.skew_ns);
            let Some(stack) = node.stack.as_mut() else {
                continue;
            };
            if stack.wake_hub().is_some_and(|h| h.is_pending()) {
                stack.handle_wakes(now);
                progress = true;
            }
            if stack.transmits().next().is_none() {
                continue;
            }
            progress = true;
            for tx in stack.take_transmits(now) {
                self.route(NodeId(i as u32), &tx);
            }
        }
        progress
    }

    /// Puts each segment of `tx` on the link toward its destination,
    /// through the tamper hook.
    fn route(&mut self, from: NodeId, tx: &OwnedTransmit) {
        // A connected socket's transmit may leave the destination out.
        let destination = tx.destination.or(self.nodes[from.0 as usize].peer);
        let dest = destination.and_then(|d| self.node_at(d));
        for seg in tx.as_transmit().segments() {
            let linked = dest.filter(|to| self.links.contains_key(&(from, *to)));
            let mut hold = Duration::ZERO;
            let mut tampered = None;
            if let (Some(to), Some(_)) = (destination, self.tamper.as_ref()) {
                let mut data = seg.to_vec();
                match self.call_tamper(from, to, linked, &mut data) {
                    Verdict::Drop => {
                        self.record(from, dest, SimEventKind::Tampered, &data);
                        continue;
                    }
                    Verdict::Hold(d) => hold = d,
                    Verdict::Pass => {}
                }
                tampered = Some(data);
            }
            let bytes = tampered.as_deref().unwrap_or(seg);
            let route = linked.and_then(|to| Some((to, self.links.get_mut(&(from, to))?)));
            let Some((to, link)) = route else {
                self.unroutable += 1;
                self.record(from, dest, SimEventKind::Unroutable, bytes);
                continue;
            };
            let fate = link.offer(self.now, bytes.len());
            let mut corrupted = None;
            if fate.is_ok() && link.config().corrupt > 0.0 {
                let mut data = bytes.to_vec();
                if link.corrupt(&mut data) > 0 {
                    corrupted = Some(data);
                }
            }
            self.record(from, Some(to), SimEventKind::Sent, bytes);
            let arrivals = match fate {
                Ok(a) => a,
                Err(why) => {
                    let kind = match why {
                        DropReason::Mtu => SimEventKind::MtuDrop,
                        DropReason::QueueFull => SimEventKind::QueueDrop,
                        DropReason::Lost => SimEventKind::Lost,
                        DropReason::BurstLost => SimEventKind::BurstLost,
                    };
                    self.record(from, Some(to), kind, bytes);
                    continue;
                }
            };
            if let Some(c) = &corrupted {
                self.record(from, Some(to), SimEventKind::Corrupted, c);
            }
            if !hold.is_zero() {
                self.record(from, Some(to), SimEventKind::Held, bytes);
            }
            let payload: Arc<[u8]> = Arc::from(corrupted.as_deref().unwrap_or(bytes));
            let source = self.nodes[from.0 as usize].addr;
            for a in arrivals.iter() {
                if a.duplicate {
                    self.record(from, Some(to), SimEventKind::Duplicated, &payload);
                }
                if a.reordered {
                    self.record(from, Some(to), SimEventKind::Reordered, &payload);
                }
                self.seq += 1;
                self.flights.push(Reverse(Flight {
                    at: a.at + hold,
                    seq: self.seq,
                    from,
                    source,
                    to,
                    ecn: tx.ecn,
                    payload: payload.clone(),
                    injected: false,
                }));
            }
        }
    }

    /// Runs the tamper hook on one datagram and schedules what it injected.
    fn call_tamper(
        &mut self,
        from: NodeId,
        to: SocketAddr,
        to_node: Option<NodeId>,
        data: &mut Vec<u8>,
    ) -> Verdict {
        let Some(mut hook) = self.tamper.take() else {
            return Verdict::Pass;
        };
        let mut injected = Vec::new();
        let verdict = hook(&mut InFlight {
            now: self.now,
            from: self.nodes[from.0 as usize].addr,
            from_node: from,
            to,
            to_node,
            data,
            injected: &mut injected,
        });
        // The hook may have installed a new hook: it wins.
        if self.tamper.is_none() {
            self.tamper = Some(hook);
        }
        for Injection {
            from,
            to,
            data,
            after,
        } in injected
        {
            let Some(dst) = self.node_at(to) else {
                continue;
            };
            self.seq += 1;
            self.flights.push(Reverse(Flight {
                at: self.now + after,
                seq: self.seq,
                from: self.node_at(from).unwrap_or(NodeId::EXTERNAL),
                source: from,
                to: dst,
                ecn: None,
                payload: Arc::from(data),
                injected: true,
            }));
        }
        verdict
    }

    pub(super) fn record(
        &mut self,
        from: NodeId,
        to: Option<NodeId>,
        kind: SimEventKind,
        data: &[u8],
    ) {
        if !self.tracing {
            return;
        }
        let at = self.now.saturating_duration_since(epoch()).as_nanos();
        self.trace.push(SimEvent {
            at_ns: u64::try_from(at).unwrap_or(u64::MAX),
            from,
            to,
            kind,
            len: data.len(),
            hash: payload_hash(data),
        });
    }
}
