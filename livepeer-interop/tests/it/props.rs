//! Strategies for the messages, and property tests: header and body round trips, signature
//! round trips with a wrong signer refused, and decoders that never panic.

use livepeer_core::{Address, H256, LocalSigner, PixelPrice, Signer, U256};
use livepeer_interop::messages::capabilities::{
    CapabilityConstraints, Constraints, ModelConstraint,
};
use livepeer_interop::messages::*;
use livepeer_interop::payment::{u256_from_bytes, u256_to_bytes};
use livepeer_interop::*;
use livepeer_pm::ExpirationParams;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_:/.é-]{0,12}"
}

pub(crate) fn price_info() -> impl Strategy<Value = PriceInfo> {
    (any::<i64>(), any::<i64>(), any::<u32>(), text()).prop_map(|(p, q, c, s)| PriceInfo {
        price_per_unit: p,
        pixels_per_unit: q,
        capability: c,
        constraint: s,
    })
}

pub(crate) fn auth_token() -> impl Strategy<Value = AuthToken> {
    (bytes(40), text(), any::<i64>()).prop_map(|(token, session_id, expiration)| AuthToken {
        token,
        session_id,
        expiration,
    })
}

pub(crate) fn capabilities() -> impl Strategy<Value = Capabilities> {
    let model = (any::<bool>(), any::<u32>(), text(), any::<u32>()).prop_map(|(w, c, r, u)| {
        ModelConstraint {
            warm: w,
            capacity: c,
            runner_version: r,
            capacity_in_use: u,
        }
    });
    let per = btree_map(text(), model, 0..3).prop_map(|models| CapabilityConstraints { models });
    let constraints =
        (text(), btree_map(any::<u32>(), per, 0..3)).prop_map(|(min_version, per_capability)| {
            Constraints {
                min_version,
                per_capability,
            }
        });
    (
        vec(any::<u64>(), 0..4),
        vec(any::<u64>(), 0..3),
        btree_map(any::<u32>(), any::<u32>(), 0..4),
        text(),
        option::of(constraints),
    )
        .prop_map(|(b, m, c, v, k)| Capabilities {
            bitstring: b,
            mandatories: m,
            capacities: c,
            version: v,
            constraints: k,
        })
}

pub(crate) fn expiration_params() -> impl Strategy<Value = TicketExpirationParams> {
    (any::<i64>(), bytes(33)).prop_map(|(r, h)| TicketExpirationParams {
        creation_round: r,
        creation_round_block_hash: h,
    })
}

pub(crate) fn ticket_params() -> impl Strategy<Value = TicketParams> {
    (
        bytes(21),
        bytes(33),
        bytes(33),
        bytes(33),
        bytes(33),
        bytes(9),
        option::of(expiration_params()),
    )
        .prop_map(|(a, b, c, d, e, f, g)| TicketParams {
            recipient: a,
            face_value: b,
            win_prob: c,
            recipient_rand_hash: d,
            seed: e,
            expiration_block: f,
            expiration_params: g,
        })
}

pub(crate) fn payment() -> impl Strategy<Value = Payment> {
    let ticket = (any::<u32>(), bytes(66)).prop_map(|(n, sig)| TicketSenderParams {
        sender_nonce: n,
        sig,
    });
    (
        option::of(ticket_params()),
        bytes(21),
        option::of(expiration_params()),
        vec(ticket, 0..5),
        option::of(price_info()),
    )
        .prop_map(|(t, s, e, k, p)| Payment {
            ticket_params: t,
            sender: s,
            expiration_params: e,
            ticket_sender_params: k,
            expected_price: p,
        })
}

pub(crate) fn video_profile() -> impl Strategy<Value = VideoProfile> {
    (
        (
            text(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<u32>(),
        ),
        (0..2i32, any::<u32>(), 0..5i32, any::<i32>(), 0..4i32),
        (any::<i32>(), 0..3i32, any::<u32>()),
    )
        .prop_map(
            |((n, w, h, b, fps), (fmt, den, prof, gop, enc), (cd, cf, q))| VideoProfile {
                name: n,
                width: w,
                height: h,
                bitrate: b,
                fps,
                format: fmt,
                fps_den: den,
                profile: prof,
                gop,
                encoder: enc,
                color_depth: cd,
                chroma_format: cf,
                quality: q,
            },
        )
}

fn os_info() -> impl Strategy<Value = OsInfo> {
    let s3 =
        (text(), text(), text(), text(), text(), text()).prop_map(|(a, b, c, d, e, f)| S3OsInfo {
            host: a,
            key: b,
            policy: c,
            signature: d,
            credential: e,
            x_amz_date: f,
        });
    (0..3i32, option::of(s3)).prop_map(|(t, s)| OsInfo {
        storage_type: t,
        s3info: s,
    })
}

pub(crate) fn seg_data() -> impl Strategy<Value = SegData> {
    let clip = (any::<u64>(), any::<u64>()).prop_map(|(from, to)| SegParameters { from, to });
    (
        (
            bytes(20),
            any::<i64>(),
            bytes(33),
            bytes(8),
            bytes(66),
            any::<i32>(),
        ),
        (
            option::of(capabilities()),
            option::of(auth_token()),
            any::<bool>(),
            vec(os_info(), 0..2),
        ),
        (
            vec(video_profile(), 0..3),
            vec(video_profile(), 0..2),
            vec(video_profile(), 0..2),
            option::of(clip),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((m, seq, h, p, sig, d), (c, a, ph, st), (f1, f2, f3, sp, re))| SegData {
                manifest_id: m,
                seq,
                hash: h,
                profiles: p,
                sig,
                duration: d,
                capabilities: c,
                auth_token: a,
                calc_perceptual_hash: ph,
                storage: st,
                full_profiles: f1,
                full_profiles2: f2,
                full_profiles3: f3,
                segment_parameters: sp,
                force_session_reinit: re,
            },
        )
}

pub(crate) fn orchestrator_info() -> impl Strategy<Value = OrchestratorInfo> {
    (
        (
            text(),
            option::of(ticket_params()),
            option::of(price_info()),
            bytes(21),
        ),
        (
            option::of(capabilities()),
            option::of(auth_token()),
            vec(os_info(), 0..2),
            vec(price_info(), 0..3),
            vec(text(), 0..3),
        ),
    )
        .prop_map(|((t, tp, pi, a), (c, at, st, cp, n))| OrchestratorInfo {
            transcoder: t,
            ticket_params: tp,
            price_info: pi,
            address: a,
            capabilities: c,
            auth_token: at,
            storage: st,
            capabilities_prices: cp,
            nodes: n,
        })
}

pub(crate) fn transcode_result() -> impl Strategy<Value = TranscodeResult> {
    let seg = (text(), any::<i64>(), text()).prop_map(|(u, p, h)| TranscodedSegmentData {
        url: u,
        pixels: p,
        perceptual_hash_url: h,
    });
    let data =
        (vec(seg, 0..4), bytes(66)).prop_map(|(segments, sig)| TranscodeData { segments, sig });
    let result = prop_oneof![
        text().prop_map(transcode_result::Result::Error),
        data.prop_map(transcode_result::Result::Data),
    ];
    (
        any::<i64>(),
        option::of(result),
        option::of(orchestrator_info()),
    )
        .prop_map(|(seq, result, info)| TranscodeResult { seq, result, info })
}

fn signer(seed: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[seed.clamp(1, 0xef); 32]).expect("a valid key")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn segment_header_round_trips(seg in seg_data()) {
        let h = encode_segment_header(&seg);
        prop_assert_eq!(decode_segment_header(h.as_bytes()).unwrap(), seg);
    }

    #[test]
    fn payment_header_round_trips(p in payment()) {
        let h = encode_payment_header(&p);
        prop_assert_eq!(decode_payment_header(h.as_bytes()).unwrap(), p);
    }

    #[test]
    fn bodies_round_trip(r in transcode_result(), i in orchestrator_info()) {
        use prost::Message;
        prop_assert_eq!(decode_transcode_result(&r.encode_to_vec()).unwrap(), r);
        prop_assert_eq!(decode_orchestrator_info(&i.encode_to_vec()).unwrap(), i);
    }

    #[test]
    fn decoders_never_panic(data in bytes(600)) {
        let _ = decode_transcode_result(&data);
        let _ = decode_orchestrator_info(&data);
        let _ = decode_payment_result(&data);
        let _ = decode_segment_header(&data);
        let _ = decode_payment_header(&data);
        if let Ok(p) = decode_payment_header(&data) {
            let _ = payment_to_batch(&p);
        }
    }

    #[test]
    fn base64_of_garbage_never_panics(data in bytes(600)) {
        use base64::Engine;
        let h = base64::engine::general_purpose::STANDARD.encode(&data);
        if let Ok(p) = decode_payment_header(h.as_bytes()) {
            let _ = payment_to_batch(&p);
        }
        if let Ok(s) = decode_segment_header(h.as_bytes()) {
            let _ = verify_seg_data(&s, &Address::zero());
        }
    }

    #[test]
    fn fuzz_entries_hold_on_structured_input(
        p in payment(), s in seg_data(), r in transcode_result(), i in orchestrator_info(),
    ) {
        use prost::Message;
        let mut h = vec![1u8];
        h.extend_from_slice(encode_payment_header(&p).as_bytes());
        livepeer_interop::fuzz_entry::headers(&h);
        let mut h = vec![0u8];
        h.extend_from_slice(encode_segment_header(&s).as_bytes());
        livepeer_interop::fuzz_entry::headers(&h);
        livepeer_interop::fuzz_entry::transcode_result(&r.encode_to_vec());
        livepeer_interop::fuzz_entry::orchestrator_info(&i.encode_to_vec());
    }

    #[test]
    fn fuzz_entries_hold_on_random_bytes(data in bytes(600)) {
        livepeer_interop::fuzz_entry::headers(&data);
        livepeer_interop::fuzz_entry::transcode_result(&data);
        livepeer_interop::fuzz_entry::orchestrator_info(&data);
    }

    #[test]
    fn segment_signature_round_trips(
        mut seg in seg_data(), hash in any::<[u8; 32]>(), a in 1u8..0xf0, b in 1u8..0xf0,
    ) {
        prop_assume!(a != b);
        seg.hash = hash.to_vec();
        let (s, other) = (signer(a), signer(b));
        sign_seg_data(&mut seg, &s).unwrap();
        let wire = decode_segment_header(encode_segment_header(&seg).as_bytes()).unwrap();
        prop_assert!(verify_seg_data(&wire, &s.address()).is_ok());
        prop_assert!(verify_seg_data(&wire, &other.address()).unwrap_err().is_signature());
    }

    #[test]
    fn result_signature_round_trips(
        renditions in vec(bytes(64), 0..5), a in 1u8..0xf0, b in 1u8..0xf0,
    ) {
        prop_assume!(a != b);
        let (o, other) = (signer(a), signer(b));
        let sig = sign_transcode_result(&renditions, &o).unwrap();
        let data = TranscodeData {
            segments: vec![TranscodedSegmentData::default(); renditions.len()],
            sig: sig.as_bytes().to_vec(),
        };
        prop_assert!(verify_transcode_result(&data, &renditions, &o.address()).is_ok());
        prop_assert!(verify_transcode_result(&data, &renditions, &other.address()).is_err());
    }

    #[test]
    fn orchestrator_request_round_trips(a in 1u8..0xf0, b in 1u8..0xf0) {
        prop_assume!(a != b);
        let mut req = orchestrator_request(&signer(a), None).unwrap();
        prop_assert_eq!(verify_orchestrator_request(&req).unwrap(), signer(a).address());
        req.address = signer(b).address().as_bytes().to_vec();
        prop_assert!(verify_orchestrator_request(&req).is_err());
    }

    #[test]
    fn big_integers_round_trip(v in any::<[u8; 32]>()) {
        let v = U256::from_big_endian(&v);
        let b = u256_to_bytes(&v);
        prop_assert!(b.first() != Some(&0));
        prop_assert_eq!(u256_from_bytes("v", &b).unwrap(), v);
    }

    #[test]
    fn ticket_params_round_trip_through_the_wire(
        recipient in any::<[u8; 20]>(), fv in any::<[u8; 32]>(), wp in any::<[u8; 32]>(),
        rrh in any::<[u8; 32]>(), seed in any::<[u8; 32]>(), exp in any::<u64>(),
        wei in 0..=i64::MAX, px in 1..=i64::MAX, round in 0..=i64::MAX, hash in any::<[u8; 32]>(),
    ) {
        let price = PixelPrice::new(U256::from(wei as u64), U256::from(px as u64)).unwrap();
        let params = livepeer_pm::TicketParams::new(
            Address::from(recipient), U256::from_big_endian(&fv), U256::from_big_endian(&wp),
            H256::from(rrh), H256::from(seed), exp, price,
            ExpirationParams::new(round as u64, H256::from(hash)),
        );
        let info = OrchestratorInfo {
            ticket_params: Some(livepeer_interop::payment::ticket_params_to_wire(&params, true).unwrap()),
            price_info: Some(price_to_info(&price).unwrap()),
            ..OrchestratorInfo::default()
        };
        let back = ticket_params_from_info(&decode_orchestrator_info(&prost::Message::encode_to_vec(&info)).unwrap()).unwrap();
        prop_assert_eq!(back, params);
    }
}
