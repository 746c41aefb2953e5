//! Tests of profiles, presets and ladder parsing.

use super::*;

#[test]
fn livepeer_presets_match_the_reference_table() {
    let p = VideoProfile::preset("P720p30fps16x9").unwrap();
    assert_eq!((p.width, p.height, p.bitrate_bps), (1280, 720, 4_000_000));
    let p = VideoProfile::preset("p240p30fps4x3").unwrap();
    assert_eq!((p.width, p.height, p.bitrate_bps), (320, 240, 600_000));
    let p = VideoProfile::preset("P144p30fps16x9").unwrap();
    assert_eq!((p.width, p.height, p.bitrate_bps), (256, 144, 400_000));
    for n in preset_names() {
        VideoProfile::preset(n).unwrap().validate().unwrap();
    }
    assert!(VideoProfile::preset("P9000p").is_err());
}

#[test]
fn ladder_from_names_json_and_toml_agree() {
    let a = Ladder::parse("P720p30fps16x9, P360p30fps16x9").unwrap();
    let b = Ladder::parse(r#"[{"preset":"P720p30fps16x9"},{"preset":"P360p30fps16x9"}]"#).unwrap();
    let c = Ladder::parse(
        "[[profiles]]\npreset = \"P720p30fps16x9\"\n[[profiles]]\npreset = \"P360p30fps16x9\"\n",
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.ids().len(), 2);
}

#[test]
fn ladder_json_with_livepeer_fields() {
    let l = Ladder::from_json(
        r#"{"profiles":[{"name":"hd","width":1280,"height":720,"bitrate":"3M","fps":30000,"fpsDen":1001,"profile":"H264Main","gop":"60"},
                        {"name":"av1","width":640,"height":360,"bitrate":800000,"codec":"av1"}]}"#,
    )
    .unwrap();
    let hd = &l.profiles()[0];
    assert_eq!(hd.bitrate_bps, 3_000_000);
    assert_eq!(
        hd.framerate,
        Some(Framerate {
            num: 30000,
            den: 1001
        })
    );
    assert_eq!(hd.h264_profile, Some(H264Profile::Main));
    assert_eq!(hd.gop, Gop::Frames(60));
    let av1 = &l.profiles()[1];
    assert_eq!(
        (av1.codec, av1.container, av1.h264_profile),
        (VideoCodec::Av1, Container::Ivf, None)
    );
}

#[test]
fn ladder_rejections_are_typed() {
    assert!(matches!(Ladder::parse(""), Err(ParseError::Empty { .. })));
    assert!(Ladder::parse("720p,720p").is_err());
    assert!(Ladder::from_json(r#"[{"width":1281,"height":720,"bitrate":1000000}]"#).is_err());
    assert!(Ladder::from_json(r#"[{"width":1280,"height":720}]"#).is_err());
    assert!(Ladder::from_json(r#"[{"preset":"720p","bogus":1}]"#).is_err());
    assert!(
        Ladder::from_json(r#"[{"preset":"720p","codec":"av1","container":"mpegts"}]"#).is_err()
    );
    let many = vec!["720p"; 17].join(",");
    assert!(matches!(
        Ladder::parse(&many),
        Err(ParseError::TooLong { .. }) | Err(ParseError::Invalid { .. })
    ));
}

#[test]
fn bitrate_parsing() {
    assert_eq!(parse_bitrate("3000k").unwrap(), 3_000_000);
    assert_eq!(parse_bitrate("1.6M").unwrap(), 1_600_000);
    assert_eq!(parse_bitrate("800kbps").unwrap(), 800_000);
    assert_eq!(parse_bitrate("123456").unwrap(), 123_456);
    for bad in ["", "k", "1.2.3M", "-5k", "99999999999999999999", "1e6"] {
        assert!(parse_bitrate(bad).is_err(), "{bad}");
    }
}

#[test]
fn profile_id_ignores_name() {
    let mut a = VideoProfile::preset("720p").unwrap();
    let id = a.id();
    a.name = "other".into();
    assert_eq!(a.id(), id);
    a.bitrate_bps += 1;
    assert_ne!(a.id(), id);
}
