//! Codec round trips (proptest), bounds, and stream-reader behaviour on bad input.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use livepeer_core::Signer;
use livepeer_core::transcode::Capabilities;
use livepeer_core::{
    Address, Container, H256, Ladder, LocalSigner, PixelPrice, Receipt, Region, ServiceId,
    StreamId, U256, VideoCodec,
};
use proptest::prelude::*;

use super::*;
use livepeer_pm::{ExpirationParams, TicketBatch, TicketParams, TicketSig};

fn signer(n: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[n.max(1); 32]).unwrap()
}

fn params(seed: u64) -> TicketParams {
    static BASE: std::sync::OnceLock<TicketParams> = std::sync::OnceLock::new();
    let mut p = BASE
        .get_or_init(|| livepeer_pm::test_utils::fixture().params)
        .clone();
    p.recipient = Address::from_low_u64_be(seed);
    p.face_value = U256::from(seed) * 1000;
    p.win_prob = U256::MAX / (seed + 1);
    p.recipient_rand_hash = H256::from_low_u64_be(seed ^ 7);
    p.seed = H256::from_low_u64_be(seed);
    p.expiration_block = seed;
    p.price = PixelPrice::per_pixel(seed);
    p.expiration = ExpirationParams::new(seed, H256::from_low_u64_be(seed));
    p
}

fn ladder(pick: u8) -> Ladder {
    let names = [
        "P240p30fps16x9",
        "P360p30fps16x9",
        "P720p30fps16x9",
        "P144p30fps16x9",
    ];
    let n = usize::from(pick % 4) + 1;
    Ladder::from_preset_names(&names[..n].join(",")).unwrap()
}

fn message(kind: u8, seed: u64, text: String, body: Vec<u8>) -> Message {
    let s = signer((seed % 200) as u8 + 1);
    let stream = StreamId(H256::from_low_u64_be(seed));
    match kind % 13 {
        0 => Message::Hello(
            identity::sign_binding(&s, Role::Orchestrator, &[seed as u8; 32]).unwrap(),
        ),
        1 | 3 => {
            let request = JobRequest {
                service: ServiceId::cpu_transcoding(),
                region: Region::global(),
                ladder: ladder(seed as u8),
                broadcaster: livepeer_core::Signer::address(&s),
                stream_id: stream,
                unix_ms: seed,
            }
            .sign(&s)
            .unwrap();
            if kind % 13 == 1 {
                Message::JobRequest(request)
            } else {
                Message::Subscribe(Subscribe { request })
            }
        }
        2 | 4 => {
            let q = Quote {
                orchestrator: Address::from_low_u64_be(seed),
                price: PixelPrice::per_pixel(seed),
                ticket_params: params(seed),
                capacity_pps: seed,
                expires_unix_ms: seed,
            };
            if kind % 13 == 2 {
                Message::Quote(q)
            } else {
                Message::QuoteUpdate(q)
            }
        }
        5 => Message::SegmentHeader(SegmentHeader {
            stream_id: stream,
            seq: seed,
            duration_ms: 2000,
            container: Container::MpegTs,
            codec: VideoCodec::H264,
            ladder: ladder(seed as u8),
            input_hash: H256::from_low_u64_be(seed),
            body_len: seed,
            payment: seed.is_multiple_of(2).then(|| {
                TicketBatch::new(
                    params(seed),
                    Address::from_low_u64_be(seed),
                    (0..(seed % 5) as u32)
                        .map(|nonce| {
                            let sig = s
                                .sign_hash(&H256::from_low_u64_be(u64::from(nonce)))
                                .unwrap();
                            TicketSig::new(nonce, sig.as_bytes().to_vec())
                        })
                        .collect(),
                )
            }),
        }),
        6 => {
            let mut b = body;
            if b.is_empty() {
                b.push(0);
            }
            Message::Chunk(Bytes::from(b))
        }
        7 => {
            let receipt = Receipt {
                orchestrator: livepeer_core::Signer::address(&s),
                broadcaster: Address::from_low_u64_be(seed),
                stream_id: stream,
                seq: seed,
                input_hash: H256::from_low_u64_be(seed),
                profile_ids: vec![H256::from_low_u64_be(1)],
                output_hashes: vec![H256::from_low_u64_be(2)],
                pixels: vec![seed],
            }
            .sign(&s, &livepeer_core::test_utils::test_domain())
            .unwrap();
            Message::ResultHeader(ResultHeader {
                receipt,
                renditions: vec![RenditionMeta {
                    frames: 60,
                    pixels: seed,
                    duration_ms: 2000,
                    len: seed % 1000,
                }],
                source_frames: 60,
            })
        }
        8 => Message::Error(WireError::new(ErrorCode::from_u16(seed as u16), text)),
        9 => Message::Register(Register {
            capabilities: Capabilities {
                backend: text.chars().take(40).collect(),
                decoders: vec![VideoCodec::H264],
                encoders: vec![VideoCodec::H264, VideoCodec::Av1],
                containers: vec![Container::MpegTs],
                max_width: 1920,
                max_height: 1080,
                pixels_per_second: seed,
                hardware: false,
                deterministic: true,
            },
            capacity_pps: seed,
            max_tasks: 4,
            secret: None,
        }),
        10 => Message::Registered(Registered {
            transcoder_id: seed,
        }),
        11 => Message::Task(TaskHeader {
            task_id: seed,
            stream_id: stream,
            seq: seed,
            duration_ms: 2000,
            container: Container::MpegTs,
            codec: VideoCodec::H264,
            ladder: ladder(seed as u8),
            body_len: seed,
        }),
        _ => Message::TaskResult(TaskResult {
            task_id: seed,
            renditions: vec![],
            source_frames: 1,
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_message_round_trips(kind in 0u8..13, seed in any::<u64>(), text in ".{0,600}", body in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let m = message(kind, seed, text, body);
        let frame = m.encode().unwrap();
        prop_assert!(frame.len() - codec::HEADER_LEN <= m.kind().max_len());
        // Byte by byte, as a slow stream delivers it.
        let mut dec = FrameDecoder::new();
        for b in frame.iter() {
            prop_assert_eq!(dec.poll_frame().unwrap(), None);
            dec.handle_data(&[*b]);
        }
        prop_assert_eq!(dec.poll_frame().unwrap(), Some(m));
        prop_assert_eq!(dec.poll_frame().unwrap(), None);
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
        crate::fuzz_entry::decode_all(&data);
    }
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_u8(kind);
    b.put_u32(payload.len() as u32);
    b.extend_from_slice(payload);
    b.to_vec()
}

#[test]
fn oversized_frame_is_refused_from_its_header() {
    let mut dec = FrameDecoder::new();
    // Only the header: the bound is checked before a byte of payload arrives.
    dec.handle_data(&[MessageType::Hello as u8, 0, 0, 1, 0]);
    assert!(matches!(
        dec.poll_frame(),
        Err(ProtoError::TooLarge { len: 256, .. })
    ));
    // Stays failed.
    dec.handle_data(&frame(MessageType::Chunk as u8, b"x"));
    assert!(dec.poll_frame().is_err());
    let mut dec = FrameDecoder::new();
    dec.handle_data(&[MessageType::Chunk as u8, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(dec.poll_frame(), Err(ProtoError::TooLarge { .. })));
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn unknown_type_malformed_and_trailing_bytes_are_typed_errors() {
    let mut dec = FrameDecoder::new();
    dec.handle_data(&frame(0x7f, b""));
    assert_eq!(dec.poll_frame(), Err(ProtoError::UnknownType(0x7f)));
    let mut dec = FrameDecoder::new();
    dec.handle_data(&frame(MessageType::Quote as u8, &[0xff; 10]));
    assert!(matches!(
        dec.poll_frame(),
        Err(ProtoError::Malformed { .. })
    ));
    let good = message(10, 5, String::new(), vec![]).encode().unwrap();
    let mut payload = good[codec::HEADER_LEN..].to_vec();
    payload.push(0);
    let mut dec = FrameDecoder::new();
    dec.handle_data(&frame(MessageType::Registered as u8, &payload));
    assert!(matches!(
        dec.poll_frame(),
        Err(ProtoError::Malformed { .. })
    ));
    assert_eq!(ProtoError::UnknownType(1).code(), ErrorCode::Malformed);
}

#[test]
fn unknown_error_codes_survive() {
    let m = Message::Error(WireError::new(ErrorCode::Other(999), "later version"));
    let mut dec = FrameDecoder::new();
    dec.handle_data(&m.encode().unwrap());
    assert_eq!(dec.poll_frame().unwrap(), Some(m));
    assert_eq!(ErrorCode::LowPMBalance.to_string(), "LowPMBalance");
    for n in 1..=15 {
        assert_eq!(ErrorCode::from_u16(n).to_u16(), n);
    }
}

fn header(body_len: u64) -> Message {
    match message(5, 1, String::new(), vec![]) {
        Message::SegmentHeader(mut h) => {
            h.body_len = body_len;
            Message::SegmentHeader(h)
        }
        _ => unreachable!(),
    }
}

#[test]
fn reader_assembles_header_and_body() {
    let now = Instant::now();
    let body = Bytes::from(vec![9u8; 200_000]);
    let mut wire = header(body.len() as u64).encode().unwrap().to_vec();
    for c in chunk_frames(&body) {
        wire.extend_from_slice(&c);
    }
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], ReadLimits::default());
    for piece in wire.chunks(1000) {
        r.handle_data(now, piece);
    }
    match r.poll_event() {
        Some(ReadEvent::Done(a)) => assert_eq!(a.bodies, vec![body]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reader_refuses_overflow_wrong_type_and_slow_drip() {
    let now = Instant::now();
    let limits =
        ReadLimits::new(Duration::from_secs(1), Duration::from_secs(5)).with_max_body(1000);
    // Declared body above the bound.
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], limits.clone());
    r.handle_data(now, &header(1001).encode().unwrap());
    assert!(matches!(
        r.poll_event(),
        Some(ReadEvent::Failed(ProtoError::BodyOverflow { .. }))
    ));
    // More body than declared.
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], limits.clone());
    r.handle_data(now, &header(3).encode().unwrap());
    r.handle_data(
        now,
        &chunk_frames(&Bytes::from_static(b"four")).next().unwrap(),
    );
    assert!(matches!(
        r.poll_event(),
        Some(ReadEvent::Failed(ProtoError::BodyOverflow { .. }))
    ));
    // A type the stream does not allow.
    let mut r = StreamReader::new(now, &[MessageType::JobRequest], limits.clone());
    r.handle_data(now, &header(3).encode().unwrap());
    assert!(matches!(
        r.poll_event(),
        Some(ReadEvent::Failed(ProtoError::Unexpected { .. }))
    ));
    // Slow drip: a byte every 0.9 s keeps the idle deadline but not the total.
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], limits);
    let wire = header(3).encode().unwrap();
    let mut t = now;
    let mut failed = None;
    for b in wire.iter() {
        t += Duration::from_millis(900);
        r.handle_data(t, &[*b]);
        if let Some(ev) = r.poll_event() {
            failed = Some(ev);
            break;
        }
    }
    assert_eq!(
        failed,
        Some(ReadEvent::Failed(ProtoError::Timeout("total deadline")))
    );
    // Silence past the idle deadline.
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], ReadLimits::default());
    let t = r.poll_timeout().unwrap();
    r.handle_timeout(t);
    assert_eq!(
        r.poll_event(),
        Some(ReadEvent::Failed(ProtoError::Timeout("idle deadline")))
    );
    // Truncated.
    let mut r = StreamReader::new(now, &[MessageType::SegmentHeader], ReadLimits::default());
    r.handle_data(now, &header(10).encode().unwrap());
    r.handle_end(now);
    assert_eq!(
        r.poll_event(),
        Some(ReadEvent::Failed(ProtoError::Truncated))
    );
}

#[test]
fn encode_refuses_what_a_peer_would_refuse() {
    let m = Message::Chunk(Bytes::from(vec![0u8; MAX_CHUNK + 1]));
    assert!(matches!(m.encode(), Err(ProtoError::EncodeTooLarge { .. })));
}

#[test]
fn job_request_signature() {
    let s = signer(3);
    let Message::JobRequest(mut r) = message(1, 3, String::new(), vec![]) else {
        unreachable!()
    };
    assert!(r.verify());
    r.request.unix_ms += 1;
    assert!(!r.verify());
    let _ = s;
}

/// Writes the fuzz seed corpus (`fuzz/corpus/negotiate_codec`): one valid frame of every
/// type, a header with its body, and a few broken frames. Run with `--ignored` to refresh.
#[test]
#[ignore = "writes the seed corpus"]
fn write_seed_corpus() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/negotiate_codec");
    std::fs::create_dir_all(&dir).unwrap();
    for kind in 0..13u8 {
        let m = message(kind, 2, "x".into(), vec![1, 2, 3]);
        let name = format!("valid_{}", m.kind().name());
        std::fs::write(dir.join(name), m.encode().unwrap()).unwrap();
    }
    let body = Bytes::from(vec![5u8; 100]);
    let mut wire = header(100).encode().unwrap().to_vec();
    for c in chunk_frames(&body) {
        wire.extend_from_slice(&c);
    }
    std::fs::write(dir.join("segment_with_body"), &wire).unwrap();
    std::fs::write(dir.join("oversized_hello"), [1u8, 0, 0, 1, 0]).unwrap();
    std::fs::write(dir.join("unknown_type"), frame(0x7f, b"abc")).unwrap();
    std::fs::write(dir.join("garbage_quote"), frame(3, &[0xff; 12])).unwrap();
}
