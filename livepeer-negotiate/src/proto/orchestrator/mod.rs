//! The orchestrator's protocol decisions as a sans-IO state machine: which quote requests
//! and segments it takes, what a quote says and how long it holds, when pushed quote updates
//! are due, how much segment memory and capacity it commits, and the receipt it signs.
//!
//! The driver numbers every request stream ([`RequestId`]) and feeds what happens on it with
//! [`OrchestratorMachine::handle`]; when [`OrchestratorMachine::poll_timeout`] passes it calls
//! [`OrchestratorMachine::handle_timeout`]. After every call it drains
//! [`OrchestratorMachine::poll_action`] until `None` and carries the actions out: asking the
//! payment validator ([`OrchestratorAction::IssueParams`], [`OrchestratorAction::CheckPayment`]
//! and [`OrchestratorAction::Debit`]), reading a body, running the pool, and writing replies.
//! The outcome of an asynchronous action comes back as the matching input. Every request ends
//! in one [`OrchestratorAction::Refuse`], [`OrchestratorAction::SendResult`] or final
//! [`OrchestratorAction::Reply`], or with the driver's [`OrchestratorInput::Closed`].
//!
//! Time is passed in (`now`, wall-clock, since quotes carry Unix times on the wire); the
//! machine never reads a clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use livepeer_core::transcode::{TranscodeJob, TranscodeOutput};
use livepeer_core::{
    Address, Domain, H256, PixelPrice, Receipt, Region, Segment, ServiceId, Signer, StreamId, Wei,
    keccak256,
};
use livepeer_pm::TicketParams;
use tracing::debug;

use super::payment::PaymentError;
use super::pricing::{CapacityMeter, PriceBook, fee_estimate, ladder_rate};
use super::{
    ErrorCode, Message, Quote, RenditionMeta, ResultHeader, SegmentHeader, SignedJobRequest,
    WireError,
};

mod events;
#[cfg(test)]
mod tests;

pub use events::{OrchestratorAction, OrchestratorInput};

/// Identifies one request stream; chosen by the driver, unique while the request lives.
pub type RequestId = u64;

/// The orchestrator's rules for what it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrchestratorRules {
    /// Services offered.
    pub services: Vec<ServiceId>,
    /// Regions served.
    pub regions: Vec<Region>,
    /// How long a quote holds; pushed updates are refreshed every half of it.
    pub quote_ttl: Duration,
    /// Most segment body bytes held at once, from a header's admission until its request is
    /// answered.
    pub max_body_bytes_in_flight: u64,
    /// A stream with no segment admitted for this long is forgotten: while draining, its
    /// segments are then refused like a new stream's.
    pub session_idle: Duration,
}

impl Default for OrchestratorRules {
    fn default() -> Self {
        OrchestratorRules {
            services: vec![ServiceId::cpu_transcoding()],
            regions: vec![Region::global()],
            quote_ttl: Duration::from_secs(60),
            max_body_bytes_in_flight: 1 << 30,
            session_idle: Duration::from_secs(300),
        }
    }
}

/// Where one request stands.
#[derive(Debug)]
enum Req {
    /// Params asked for a quote (`subscribed`: an update of a subscription). `stale`: the
    /// price changed since they were asked.
    Quoting {
        peer: Address,
        job: SignedJobRequest,
        price: PixelPrice,
        subscribed: bool,
        stale: bool,
    },
    /// A subscription waiting for its next refresh.
    Subscribed {
        peer: Address,
        job: SignedJobRequest,
        refresh_at: SystemTime,
    },
    /// The payment is being checked; `body_bytes` of the budget are reserved.
    Admitting {
        peer: Address,
        header: SegmentHeader,
        body_bytes: u64,
    },
    /// Paid; the body is being read.
    Reading {
        peer: Address,
        header: SegmentHeader,
        body_bytes: u64,
    },
    /// The pool works on it; `rate` of the capacity is reserved.
    Transcoding {
        peer: Address,
        header: SegmentHeader,
        body_bytes: u64,
        rate: u64,
    },
}

/// The orchestrator's protocol core. See the [module docs](self) for the calling rules.
pub struct OrchestratorMachine {
    signer: Arc<dyn Signer>,
    domain: Domain,
    rules: OrchestratorRules,
    prices: PriceBook,
    capacity: CapacityMeter,
    requests: HashMap<RequestId, Req>,
    /// Streams with a segment admitted, and when the last one was.
    sessions: HashMap<(Address, StreamId), SystemTime>,
    next_prune: Option<SystemTime>,
    body_bytes: u64,
    draining: bool,
    actions: VecDeque<OrchestratorAction>,
}

impl std::fmt::Debug for OrchestratorMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorMachine")
            .field("address", &self.signer.address())
            .field("requests", &self.requests.len())
            .field("sessions", &self.sessions.len())
            .field("body_bytes", &self.body_bytes)
            .field("draining", &self.draining)
            .finish()
    }
}

/// Milliseconds since the Unix epoch of `t` (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Metadata of renditions for the wire.
pub fn rendition_metas(out: &TranscodeOutput) -> Vec<RenditionMeta> {
    out.renditions
        .iter()
        .map(|r| RenditionMeta {
            frames: r.frames,
            pixels: r.pixels.0,
            duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            len: r.data.len() as u64,
        })
        .collect()
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError::new(code, message)
}

impl OrchestratorMachine {
    /// A machine signing receipts with `signer` for `domain` (the chain and FaultVerifier
    /// they answer to), charging by `prices`, under `rules`. Its capacity is zero until
    /// [`OrchestratorInput::SetCapacity`] (an idle meter still takes one job).
    pub fn new(
        signer: Arc<dyn Signer>,
        domain: Domain,
        prices: PriceBook,
        rules: OrchestratorRules,
    ) -> Self {
        OrchestratorMachine {
            signer,
            domain,
            rules,
            prices,
            capacity: CapacityMeter::new(0),
            requests: HashMap::new(),
            sessions: HashMap::new(),
            next_prune: None,
            body_bytes: 0,
            draining: false,
            actions: VecDeque::new(),
        }
    }

    /// The orchestrator's address: the one its quotes name and its receipts are signed with.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The deployment receipts are signed for.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The rules.
    pub fn rules(&self) -> &OrchestratorRules {
        &self.rules
    }

    /// Whether [`OrchestratorInput::Drain`] was fed.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Segment body bytes admitted and not yet answered.
    pub fn body_bytes_in_flight(&self) -> u64 {
        self.body_bytes
    }

    /// Requests not finished yet.
    pub fn requests(&self) -> usize {
        self.requests.len()
    }

    /// Whether a segment of `stream` from `broadcaster` was admitted within the idle time
    /// (as of the last input).
    pub fn has_session(&self, broadcaster: Address, stream: StreamId) -> bool {
        self.sessions.contains_key(&(broadcaster, stream))
    }

    /// The price `broadcaster` is charged.
    pub fn price_for(&self, broadcaster: &Address) -> PixelPrice {
        self.prices.price_for(broadcaster)
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<OrchestratorAction> {
        self.actions.pop_front()
    }

    /// When to call [`Self::handle_timeout`] next: a subscription's refresh or forgetting
    /// idle streams.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<SystemTime> {
        let refresh = self
            .requests
            .values()
            .filter_map(|r| match r {
                Req::Subscribed { refresh_at, .. } => Some(*refresh_at),
                _ => None,
            })
            .min();
        match (refresh, self.next_prune) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Refreshes subscriptions that are due and forgets idle streams, at `now`.
    pub fn handle_timeout(&mut self, now: SystemTime) {
        let due: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, r)| matches!(r, Req::Subscribed { refresh_at, .. } if *refresh_at <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.refresh(id);
        }
        if self.next_prune.is_some_and(|t| t <= now) {
            let idle = self.rules.session_idle;
            self.sessions.retain(|_, last| *last + idle > now);
            self.next_prune = self.sessions.values().min().map(|t| *t + idle);
        }
    }

    /// Feeds one input at `now`.
    pub fn handle(&mut self, now: SystemTime, input: OrchestratorInput) {
        match input {
            OrchestratorInput::JobRequest { request, peer, job } => {
                self.handle_job(request, peer, job, false)
            }
            OrchestratorInput::Subscribe { request, peer, job } => {
                self.handle_job(request, peer, job, true)
            }
            OrchestratorInput::SegmentHeader {
                request,
                peer,
                header,
            } => self.handle_header(request, peer, header),
            OrchestratorInput::ParamsIssued { request, result } => {
                self.handle_params(now, request, result)
            }
            OrchestratorInput::PaymentChecked { request, result } => {
                self.handle_payment(now, request, result)
            }
            OrchestratorInput::Body { request, body } => self.handle_body(request, body),
            OrchestratorInput::Transcoded { request, result } => {
                self.handle_transcoded(now, request, result)
            }
            OrchestratorInput::Closed { request } => {
                if let Some(r) = self.requests.remove(&request) {
                    self.release(&r);
                }
            }
            OrchestratorInput::SetPrice(price) => {
                self.prices.set_base(price);
                let subs: Vec<RequestId> = self
                    .requests
                    .iter_mut()
                    .filter_map(|(id, r)| match r {
                        Req::Subscribed { .. } => Some(*id),
                        Req::Quoting {
                            subscribed: true,
                            stale,
                            ..
                        } => {
                            *stale = true;
                            None
                        }
                        _ => None,
                    })
                    .collect();
                for id in subs {
                    self.refresh(id);
                }
            }
            OrchestratorInput::SetCapacity(pps) => self.capacity.set_capacity(pps),
            OrchestratorInput::Drain => {
                if !self.draining {
                    debug!(orchestrator = ?self.address(), "draining");
                }
                self.draining = true;
                let subs: Vec<RequestId> = self
                    .requests
                    .iter()
                    .filter(|(_, r)| matches!(r, Req::Subscribed { .. }))
                    .map(|(id, _)| *id)
                    .collect();
                for id in subs {
                    self.requests.remove(&id);
                    self.refuse(id, draining());
                }
            }
        }
    }

    fn refuse(&mut self, request: RequestId, error: WireError) {
        self.actions
            .push_back(OrchestratorAction::Refuse { request, error });
    }

    /// Gives back what `r` holds of the body budget and the capacity.
    fn release(&mut self, r: &Req) {
        match r {
            Req::Admitting { body_bytes, .. } | Req::Reading { body_bytes, .. } => {
                self.body_bytes = self.body_bytes.saturating_sub(*body_bytes);
            }
            Req::Transcoding {
                body_bytes, rate, ..
            } => {
                self.body_bytes = self.body_bytes.saturating_sub(*body_bytes);
                self.capacity.release(*rate);
            }
            Req::Quoting { .. } | Req::Subscribed { .. } => {}
        }
    }

    fn check_request(&self, peer: Address, job: &SignedJobRequest) -> Result<(), WireError> {
        let r = &job.request;
        if r.broadcaster != peer || !job.verify() {
            return Err(refuse(
                ErrorCode::Unauthorized,
                "request not signed by the connection's broadcaster",
            ));
        }
        if !self.rules.services.contains(&r.service) {
            return Err(refuse(
                ErrorCode::ServiceUnavailable,
                format!("service {} not offered", r.service),
            ));
        }
        if !self.rules.regions.iter().any(|g| g.serves(&r.region)) {
            return Err(refuse(
                ErrorCode::ServiceUnavailable,
                format!("region {} not served", r.region),
            ));
        }
        if self.draining {
            return Err(draining());
        }
        Ok(())
    }

    fn handle_job(
        &mut self,
        request: RequestId,
        peer: Address,
        job: SignedJobRequest,
        subscribed: bool,
    ) {
        if self.requests.contains_key(&request) {
            debug!(request, "request id already in use; input ignored");
            return;
        }
        if let Err(e) = self.check_request(peer, &job) {
            return self.refuse(request, e);
        }
        let price = self.prices.price_for(&peer);
        self.requests.insert(
            request,
            Req::Quoting {
                peer,
                job,
                price,
                subscribed,
                stale: false,
            },
        );
        self.actions.push_back(OrchestratorAction::IssueParams {
            request,
            broadcaster: peer,
            price,
        });
    }

    /// Asks fresh params for subscription `id` (waiting for its refresh).
    fn refresh(&mut self, id: RequestId) {
        let Some(Req::Subscribed { peer, job, .. }) = self.requests.remove(&id) else {
            return;
        };
        let price = self.prices.price_for(&peer);
        self.requests.insert(
            id,
            Req::Quoting {
                peer,
                job,
                price,
                subscribed: true,
                stale: false,
            },
        );
        self.actions.push_back(OrchestratorAction::IssueParams {
            request: id,
            broadcaster: peer,
            price,
        });
    }

    fn handle_params(
        &mut self,
        now: SystemTime,
        request: RequestId,
        result: Result<TicketParams, PaymentError>,
    ) {
        if !matches!(self.requests.get(&request), Some(Req::Quoting { .. })) {
            // Not waiting for params (closed meanwhile).
            return;
        }
        let Some(Req::Quoting {
            peer,
            job,
            price,
            subscribed,
            stale,
        }) = self.requests.remove(&request)
        else {
            return;
        };
        if self.draining {
            return self.refuse(request, draining());
        }
        let ticket_params = match result {
            Ok(p) => p,
            Err(e) => return self.refuse(request, e.to_wire()),
        };
        let quote = Quote {
            orchestrator: self.address(),
            price,
            ticket_params,
            capacity_pps: self.capacity.free(),
            expires_unix_ms: unix_ms(now)
                .saturating_add(u64::try_from(self.rules.quote_ttl.as_millis()).unwrap_or(0)),
        };
        if !subscribed {
            self.actions.push_back(OrchestratorAction::Reply {
                request,
                message: Message::Quote(quote),
                finish: true,
            });
            return;
        }
        self.actions.push_back(OrchestratorAction::Reply {
            request,
            message: Message::QuoteUpdate(quote),
            finish: false,
        });
        // Refreshed before the quote runs out even if nothing changes; at once if the price
        // changed while these params were asked.
        let refresh_at = if stale {
            now
        } else {
            now + self.rules.quote_ttl / 2
        };
        self.requests.insert(
            request,
            Req::Subscribed {
                peer,
                job,
                refresh_at,
            },
        );
    }

    /// Vets a segment header before its body is read: bounds, ticket sender and recipient,
    /// draining, room in the body budget, then the payment (asked of the validator).
    fn handle_header(&mut self, request: RequestId, peer: Address, mut header: SegmentHeader) {
        if self.requests.contains_key(&request) {
            debug!(request, "request id already in use; input ignored");
            return;
        }
        if header.duration_ms == 0 || header.duration() > livepeer_core::media::MAX_SEGMENT_DURATION
        {
            return self.refuse(
                request,
                refuse(ErrorCode::InvalidInput, "segment duration out of bounds"),
            );
        }
        if header.body_len == 0 || header.body_len > livepeer_core::media::MAX_SEGMENT_BYTES as u64
        {
            return self.refuse(
                request,
                refuse(ErrorCode::InvalidInput, "segment size out of bounds"),
            );
        }
        if let Some(b) = &header.payment {
            if b.sender != peer {
                return self.refuse(
                    request,
                    refuse(ErrorCode::InvalidTicket, "tickets from another sender"),
                );
            }
            if b.params.recipient != self.address() {
                return self.refuse(
                    request,
                    refuse(ErrorCode::InvalidTicket, "tickets pay another recipient"),
                );
            }
        }
        if self.draining && !self.has_session(peer, header.stream_id) {
            return self.refuse(request, draining());
        }
        // Reserved before the payment is taken, so a refusal here leaves the broadcaster's
        // credit untouched; a refused payment gives the reservation back.
        let budget = self.rules.max_body_bytes_in_flight;
        match self.body_bytes.checked_add(header.body_len) {
            Some(n) if n <= budget => self.body_bytes = n,
            _ => {
                return self.refuse(
                    request,
                    refuse(
                        ErrorCode::OrchestratorCapped,
                        "segment memory budget full; try later",
                    ),
                );
            }
        }
        let price = self.prices.price_for(&peer);
        let estimate = fee_estimate(&price, &header.ladder, header.duration());
        let batch = header.payment.take();
        let (stream, body_bytes) = (header.stream_id, header.body_len);
        self.requests.insert(
            request,
            Req::Admitting {
                peer,
                header,
                body_bytes,
            },
        );
        self.actions.push_back(OrchestratorAction::CheckPayment {
            request,
            sender: peer,
            stream,
            batch,
            fee_estimate: estimate,
        });
    }

    fn handle_payment(
        &mut self,
        now: SystemTime,
        request: RequestId,
        result: Result<Wei, PaymentError>,
    ) {
        let Some(r) = self.requests.remove(&request) else {
            return;
        };
        let Req::Admitting {
            peer,
            header,
            body_bytes,
        } = r
        else {
            self.requests.insert(request, r);
            return;
        };
        if let Err(e) = result {
            self.body_bytes = self.body_bytes.saturating_sub(body_bytes);
            return self.refuse(request, e.to_wire());
        }
        self.touch_session(now, peer, header.stream_id);
        self.requests.insert(
            request,
            Req::Reading {
                peer,
                header,
                body_bytes,
            },
        );
        self.actions
            .push_back(OrchestratorAction::ReadBody { request });
    }

    fn touch_session(&mut self, now: SystemTime, peer: Address, stream: StreamId) {
        self.sessions.insert((peer, stream), now);
        if self.next_prune.is_none() {
            self.next_prune = Some(now + self.rules.session_idle);
        }
    }

    fn handle_body(&mut self, request: RequestId, body: Bytes) {
        let Some(r) = self.requests.remove(&request) else {
            return;
        };
        let Req::Reading {
            peer,
            header,
            body_bytes,
        } = r
        else {
            self.requests.insert(request, r);
            return;
        };
        let give_back = |m: &mut Self, e: WireError| {
            m.body_bytes = m.body_bytes.saturating_sub(body_bytes);
            m.refuse(request, e);
        };
        let segment = Segment {
            seq: header.seq,
            duration: header.duration(),
            data: body,
            container: header.container,
            codec: header.codec,
        };
        if let Err(e) = segment.check_bounds() {
            return give_back(self, refuse(ErrorCode::InvalidInput, e.to_string()));
        }
        if segment.keccak() != header.input_hash {
            return give_back(
                self,
                refuse(ErrorCode::InvalidInput, "body does not hash to input_hash"),
            );
        }
        let rate = ladder_rate(&header.ladder);
        if !self.capacity.try_reserve(rate) {
            return give_back(
                self,
                refuse(ErrorCode::OrchestratorCapped, "OrchestratorCapped"),
            );
        }
        let job = TranscodeJob {
            stream_id: header.stream_id,
            segment,
            ladder: header.ladder.clone(),
        };
        self.requests.insert(
            request,
            Req::Transcoding {
                peer,
                header,
                body_bytes,
                rate,
            },
        );
        self.actions
            .push_back(OrchestratorAction::Transcode { request, job });
    }

    fn handle_transcoded(
        &mut self,
        now: SystemTime,
        request: RequestId,
        result: Result<TranscodeOutput, WireError>,
    ) {
        let Some(r) = self.requests.remove(&request) else {
            return;
        };
        if !matches!(r, Req::Transcoding { .. }) {
            self.requests.insert(request, r);
            return;
        }
        self.release(&r);
        let Req::Transcoding { peer, header, .. } = r else {
            return;
        };
        let out = match result {
            Ok(out) => out,
            Err(e) => return self.refuse(request, e),
        };
        let fee = self.prices.price_for(&peer).fee(out.total_pixels());
        self.actions.push_back(OrchestratorAction::Debit {
            request,
            sender: peer,
            stream: header.stream_id,
            fee,
        });
        self.touch_session(now, peer, header.stream_id);
        let receipt = Receipt {
            orchestrator: self.address(),
            broadcaster: peer,
            stream_id: header.stream_id,
            seq: header.seq,
            input_hash: header.input_hash,
            profile_ids: header.ladder.ids(),
            output_hashes: out
                .renditions
                .iter()
                .map(|r| H256::from(keccak256(&r.data)))
                .collect(),
            pixels: out.renditions.iter().map(|r| r.pixels.0).collect(),
        }
        .sign(&*self.signer, &self.domain);
        let receipt = match receipt {
            Ok(r) => r,
            Err(e) => return self.refuse(request, refuse(ErrorCode::Internal, e.to_string())),
        };
        let header = ResultHeader {
            receipt,
            renditions: rendition_metas(&out),
            source_frames: out.source_frames,
        };
        let bodies = out.renditions.into_iter().map(|r| r.data).collect();
        self.actions.push_back(OrchestratorAction::SendResult {
            request,
            header,
            bodies,
        });
    }
}

fn draining() -> WireError {
    refuse(
        ErrorCode::Draining,
        "draining: no new streams or quotes; go elsewhere",
    )
}
