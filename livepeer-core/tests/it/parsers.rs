//! Property tests: every parser of outside input returns a typed error on bad input, never
//! panics, and round-trips what it accepts.

use livepeer_core::media::Framerate;
use livepeer_core::primitives::{parse_hex_bytes, parse_wei};
use livepeer_core::profile::parse_bitrate;
use livepeer_core::{
    Address, Ladder, ParseError, Region, ServiceId, Signature, U256, VideoProfile, parse_address,
    parse_h256, parse_u256, to_checksum,
};
use proptest::prelude::*;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-fA-Fx ,._/>:+\\-]{0,80}",
        "0x[0-9a-fA-F]{0,140}",
        "[ -~]{0,200}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(s in any_text()) {
        let _ = parse_address(&s);
        let _ = parse_h256(&s);
        let _ = parse_u256(&s);
        let _ = parse_wei(&s);
        let _ = parse_hex_bytes("bytes", &s, 64);
        let _ = s.parse::<Signature>();
        let _ = s.parse::<Framerate>();
        let _ = parse_bitrate(&s);
        let _ = VideoProfile::preset(&s);
        let _ = Ladder::parse(&s);
        let _ = Ladder::from_json(&s);
        let _ = Ladder::from_toml(&s);
        let _ = ServiceId::parse(&s);
        let _ = Region::parse(&s);
    }

    #[test]
    fn address_round_trips_through_checksum(bytes in any::<[u8; 20]>()) {
        let a = Address::from(bytes);
        let c = to_checksum(&a);
        prop_assert_eq!(parse_address(&c).unwrap(), a);
        prop_assert_eq!(parse_address(&c.to_lowercase()).unwrap(), a);
        prop_assert_eq!(parse_address(&c[2..].to_uppercase()).unwrap(), a);
    }

    #[test]
    fn flipping_case_of_one_letter_breaks_the_checksum(bytes in any::<[u8; 20]>(), pick in any::<usize>()) {
        let c = to_checksum(&Address::from(bytes));
        let letters: Vec<usize> = c.char_indices().skip(2).filter(|(_, ch)| ch.is_ascii_alphabetic()).map(|(i, _)| i).collect();
        // An address whose hex has one letter only is all-lowercase or all-uppercase after
        // the flip, and such forms carry no checksum.
        prop_assume!(letters.len() >= 2);
        let i = letters[pick % letters.len()];
        let mut flipped: Vec<char> = c.chars().collect();
        flipped[i] = if flipped[i].is_ascii_uppercase() { flipped[i].to_ascii_lowercase() } else { flipped[i].to_ascii_uppercase() };
        let s: String = flipped.into_iter().collect();
        let mixed = s[2..].bytes().any(|b| b.is_ascii_lowercase()) && s[2..].bytes().any(|b| b.is_ascii_uppercase());
        prop_assume!(mixed);
        let is_checksum_error = matches!(parse_address(&s), Err(ParseError::BadChecksum { .. }));
        prop_assert!(is_checksum_error);
    }

    #[test]
    fn u256_round_trips_in_decimal_and_hex(words in any::<[u64; 4]>()) {
        let v = U256::from_little_endian(&words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>());
        prop_assert_eq!(parse_u256(&v.to_string()).unwrap(), v);
        prop_assert_eq!(parse_u256(&format!("{v:#x}")).unwrap(), v);
    }

    #[test]
    fn bitrate_round_trips(bps in 0u64..1_000_000_000_000) {
        prop_assert_eq!(parse_bitrate(&bps.to_string()).unwrap(), bps);
        prop_assert_eq!(parse_bitrate(&format!("{}k", bps / 1000)).unwrap(), bps / 1000 * 1000);
    }

    #[test]
    fn framerate_accepts_exactly_the_valid_fractions(num in 0u32..100_000, den in 0u32..2_000) {
        let r = format!("{num}/{den}").parse::<Framerate>();
        let valid = num > 0 && den > 0 && u64::from(num) <= 240 * u64::from(den);
        prop_assert_eq!(r.is_ok(), valid);
    }

    #[test]
    fn service_ids_round_trip_through_bytes32(s in "[a-z0-9][a-z0-9 /._>:+\\-]{0,30}[a-z0-9]") {
        let id = ServiceId::parse(&s).unwrap();
        prop_assert_eq!(ServiceId::from_bytes32(&id.to_bytes32()).unwrap(), id.clone());
        prop_assert_eq!(ServiceId::parse(&id.as_str().to_uppercase()).unwrap(), id);
    }

    #[test]
    fn regions_round_trip_through_bytes32(s in "[a-z][a-z0-9\\-]{0,31}") {
        let r = Region::parse(&s).unwrap();
        prop_assert_eq!(Region::from_bytes32(&r.to_bytes32()).unwrap(), r);
    }

    #[test]
    fn bytes32_decoders_never_panic(bytes in any::<[u8; 32]>()) {
        let h = livepeer_core::H256::from(bytes);
        let _ = ServiceId::from_bytes32(&h);
        let _ = Region::from_bytes32(&h);
    }

    #[test]
    fn generated_ladders_validate_or_fail_typed(
        w in 0u32..9000, h in 0u32..5000, kbps in 0u64..300_000, fps in 0u32..300, codec in prop_oneof![Just("h264"), Just("av1"), Just("vp9"), Just("mpeg2")]
    ) {
        let json = format!(r#"[{{"width":{w},"height":{h},"bitrate":"{kbps}k","fps":{fps},"codec":"{codec}"}}]"#);
        match Ladder::from_json(&json) {
            Ok(l) => {
                let p = &l.profiles()[0];
                prop_assert!(p.width % 2 == 0 && p.height % 2 == 0);
                prop_assert!((16..=7680).contains(&p.width) && (16..=4320).contains(&p.height));
                prop_assert!(p.validate().is_ok());
                let back: Ladder = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
                prop_assert_eq!(back, l);
            }
            Err(e) => prop_assert_eq!(e.fault(), livepeer_core::Fault::Peer),
        }
    }
}

#[test]
fn oversized_documents_are_rejected_before_parsing() {
    let big = format!("[{}]", vec![r#"{"preset":"720p"}"#; 5000].join(","));
    assert!(matches!(
        Ladder::from_json(&big),
        Err(ParseError::TooLong { .. })
    ));
    assert!(matches!(
        Ladder::parse(&"720p,".repeat(20_000)),
        Err(ParseError::TooLong { .. })
    ));
}
