use std::process::Command;

use livepeer_core::StreamId;
use livepeer_core::transcode::TranscodeJob;

use super::*;
use crate::input::{InputError, InputStream};
use crate::testsrc::synthetic_segment;
use crate::{SoftwareConfig, SoftwareTranscoder};

fn renditions(t: &SoftwareTranscoder, ladder: &Ladder, seq: u64) -> Vec<Rendition> {
    let job = TranscodeJob {
        stream_id: StreamId::from_name("hls"),
        segment: synthetic_segment(320, 180, 30, seq).unwrap(),
        ladder: ladder.clone(),
    };
    t.transcode_blocking(job).unwrap().renditions
}

fn have_ffprobe() -> bool {
    Command::new("ffprobe").arg("-version").output().is_ok()
}

#[test]
fn a_ladder_is_written_as_playable_hls() {
    let t = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let ladder: Ladder = "240p,144p".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut w = HlsWriter::create(&out, &ladder).unwrap();
    for seq in [0, 1, 3] {
        w.write_segment(seq, &renditions(&t, &ladder, seq)).unwrap();
        // Playable while it runs: the master is there and names every rung.
        let master = fs::read_to_string(out.join(MASTER)).unwrap();
        assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 2, "{master}");
    }
    assert!(matches!(
        w.write_segment(3, &renditions(&t, &ladder, 3)),
        Err(HlsError::OutOfOrder { seq: 3, last: 3 })
    ));
    assert!(matches!(
        w.write_segment(4, &renditions(&t, &ladder, 4)[..1]),
        Err(HlsError::Mismatch(_))
    ));
    let summary = w.finish().unwrap();
    assert_eq!(summary.segments, 3);
    assert_eq!(summary.media.len(), 2);
    assert!((summary.duration.as_secs_f64() - 3.0).abs() < 0.01);

    let master = fs::read_to_string(&summary.master).unwrap();
    // The source (320x180) is smaller than the 240p box: never enlarged.
    assert!(master.contains("RESOLUTION=320x180"), "{master}");
    assert!(master.contains("CODECS=\"avc1."), "{master}");
    let media = fs::read_to_string(&summary.media[0]).unwrap();
    assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
    assert!(media.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{media}");
    // The gap between segments 1 and 3 is a discontinuity.
    assert_eq!(media.matches("#EXT-X-DISCONTINUITY").count(), 1, "{media}");
    // No temporary file is left behind.
    let rung0 = summary.media[0].parent().unwrap().to_owned();
    for d in [out.clone(), rung0.clone()] {
        for e in fs::read_dir(&d).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.starts_with(".tmp"), "{name} left in {}", d.display());
        }
    }

    // The master leads to the best variant's segments.
    let files = read_playlist(&summary.master).unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0], rung0.join("0.ts"));

    // A second stream into the same directory is refused.
    assert!(matches!(
        HlsWriter::create(&out, &ladder),
        Err(HlsError::NotEmpty(_))
    ));

    if have_ffprobe() {
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&summary.media[1])
            .output()
            .unwrap();
        assert!(probe.status.success(), "{probe:?}");
        let text = String::from_utf8_lossy(&probe.stdout);
        let sizes: Vec<_> = text.lines().filter(|l| !l.is_empty()).collect();
        assert!(
            !sizes.is_empty() && sizes.iter().all(|l| *l == "256,144"),
            "{text}"
        );
    }
}

#[test]
fn bad_playlists_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.m3u8");
    fs::write(
        &p,
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nmissing.ts\n",
    )
    .unwrap();
    let e = read_playlist(&p).unwrap_err();
    assert!(e.to_string().contains("missing.ts is missing"), "{e}");
    fs::write(
        &p,
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://x/1.ts\n",
    )
    .unwrap();
    let e = read_playlist(&p).unwrap_err();
    assert!(e.to_string().contains("is a URL"), "{e}");
    fs::write(&p, "hello").unwrap();
    assert!(matches!(
        read_playlist(&p),
        Err(HlsError::BadPlaylist { .. })
    ));
    assert!(matches!(
        read_playlist(&dir.path().join("none.m3u8")),
        Err(HlsError::Io { .. })
    ));
    // The same through the input reader.
    assert!(matches!(
        InputStream::open(&p, Duration::from_secs(2)),
        Err(InputError::Playlist(_))
    ));
}

#[test]
fn inputs_are_cut_or_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("in.ts");
    let mut data = Vec::new();
    for seq in 0..3 {
        data.extend_from_slice(&synthetic_segment(160, 90, 30, seq).unwrap().data);
    }
    fs::write(&ts, &data).unwrap();
    let mut input = InputStream::open(&ts, Duration::from_secs(2)).unwrap();
    let mut cut = Vec::new();
    while let Some(s) = input.next_segment().unwrap() {
        cut.push(s);
    }
    assert_eq!(cut.len(), 2, "{cut:?}");
    let total: f64 = cut.iter().map(|s| s.duration.as_secs_f64()).sum();
    assert!((total - 3.0).abs() < 0.05, "{total}");

    let text = dir.path().join("notes.txt");
    fs::write(&text, "not a video at all, just some words").unwrap();
    let e = InputStream::open(&text, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, InputError::NotVideo { .. }), "{e}");
    let empty = dir.path().join("empty.ts");
    fs::write(&empty, b"").unwrap();
    let e = InputStream::open(&empty, Duration::from_secs(2)).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = InputStream::open(&dir.path().join("nope.ts"), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, InputError::Io { .. }), "{e}");
    // Sync bytes in front of garbage: refused when the first segment is cut.
    let mut fake = vec![0u8; 188 * 8];
    for p in fake.chunks_mut(188) {
        p[0] = 0x47;
    }
    let f = dir.path().join("fake.ts");
    fs::write(&f, &fake).unwrap();
    let e = InputStream::open(&f, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, InputError::NotVideo { .. }), "{e}");
}

mod props {
    use proptest::prelude::*;

    use super::super::{PlaylistEntries, parse_playlist};

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_playlist(&data);
            super::super::fuzz_playlist(&data);
        }

        /// IVF-shaped input (a valid header, arbitrary frames) never panics the repackager.
        #[test]
        fn ivf_shaped_renditions_never_panic(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6),
            sizes in proptest::collection::vec(any::<u32>(), 6),
        ) {
            let mut ivf = b"DKIF\0\0\x20\0AV01\x80\0\x48\0".to_vec();
            ivf.extend_from_slice(&90_000u32.to_le_bytes());
            ivf.extend_from_slice(&1u32.to_le_bytes());
            ivf.resize(32, 0);
            for (i, f) in frames.iter().enumerate() {
                let size = if sizes[i] % 3 == 0 { sizes[i] } else { f.len() as u32 };
                ivf.extend_from_slice(&size.to_le_bytes());
                ivf.extend_from_slice(&(i as u64 * 3000).to_le_bytes());
                ivf.extend_from_slice(f);
            }
            super::super::fuzz_playlist(&ivf);
        }

        #[test]
        fn media_playlists_give_their_segments_in_order(
            names in proptest::collection::vec("[a-z0-9]{1,12}\\.ts", 1..20),
            secs in proptest::collection::vec(0.5f32..10.0, 20),
        ) {
            let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n");
            for (n, d) in names.iter().zip(&secs) {
                text.push_str(&format!("#EXTINF:{d:.3},\n{n}\n"));
            }
            text.push_str("#EXT-X-ENDLIST\n");
            prop_assert_eq!(parse_playlist(text.as_bytes()), Ok(PlaylistEntries::Segments(names)));
        }

        #[test]
        fn mangled_playlists_are_errors_or_segments(
            cut in 0usize..200,
            flip in any::<u8>(),
        ) {
            let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXTINF:2.0,\nb.ts\n";
            let mut b = text.as_bytes()[..cut.min(text.len())].to_vec();
            if let Some(x) = b.get_mut(cut % text.len().max(1)) {
                *x ^= flip;
            }
            match parse_playlist(&b) {
                Ok(PlaylistEntries::Segments(s)) => prop_assert!(!s.is_empty()),
                Ok(PlaylistEntries::Variant(_)) | Err(_) => {}
            }
        }
    }
}

#[test]
fn a_stream_left_by_a_crash_is_resumed_after_its_last_whole_segment() {
    let t = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let ladder: Ladder = "240p,144p".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Nothing there yet: resume creates.
    let (w, last) = HlsWriter::resume(&out, &ladder).unwrap();
    assert_eq!(last, None);
    drop(w);
    // An empty resume writes no master: a fresh writer still takes the directory.
    let mut w = HlsWriter::create(&out, &ladder).unwrap();
    for seq in 0..3 {
        w.write_segment(seq, &renditions(&t, &ladder, seq)).unwrap();
    }
    // The process dies while writing segment 2's playlists: the second rung's playlist
    // still lists segments 0 and 1 only.
    drop(w);
    let second = out.join("144p").join(MASTER);
    let text = fs::read_to_string(&second).unwrap();
    let cut = text.find("2.ts").unwrap();
    let head = &text[..text[..cut].rfind("#EXTINF").unwrap()];
    fs::write(&second, head).unwrap();
    // A fresh writer refuses the directory; resuming goes on after segment 1.
    assert!(matches!(
        HlsWriter::create(&out, &ladder),
        Err(HlsError::NotEmpty(_))
    ));
    let (mut w, last) = HlsWriter::resume(&out, &ladder).unwrap();
    assert_eq!(last, Some(1));
    assert!(matches!(
        w.write_segment(1, &renditions(&t, &ladder, 1)),
        Err(HlsError::OutOfOrder { seq: 1, last: 1 })
    ));
    for seq in 2..4 {
        w.write_segment(seq, &renditions(&t, &ladder, seq)).unwrap();
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.segments, 4);
    assert!((summary.duration.as_secs_f64() - 4.0).abs() < 0.01);
    for media in &summary.media {
        let m = fs::read_to_string(media).unwrap();
        assert_eq!(m.matches("#EXTINF").count(), 4, "{m}");
        assert!(!m.contains("DISCONTINUITY"), "{m}");
        assert!(m.contains("#EXT-X-ENDLIST"), "{m}");
    }
    let master = fs::read_to_string(&summary.master).unwrap();
    assert!(master.contains("RESOLUTION=320x180"), "{master}");
    // A playlist naming a file that is gone is refused, not papered over.
    fs::remove_file(out.join("240p").join("0.ts")).unwrap();
    assert!(matches!(
        HlsWriter::resume(&out, &ladder),
        Err(HlsError::BadPlaylist { .. })
    ));
}

fn ffprobe_frames(playlist: &Path) -> (String, usize) {
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(playlist)
        .output()
        .unwrap();
    assert!(probe.status.success(), "{probe:?}");
    // HLS streams are listed under their program and again on their own: the last line.
    let text = String::from_utf8_lossy(&probe.stdout).to_string();
    let line = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    let (codec, frames) = line.split_once(',').unwrap_or((line, "0"));
    (codec.to_owned(), frames.trim().parse().unwrap_or(0))
}

/// AV1 rungs (IVF, repackaged) and fragmented-MP4 rungs are written as fMP4 HLS: one
/// initialization section named by EXT-X-MAP, `.m4s` segments whose `tfdt` keeps the
/// source clock, version 7 playlists, the `av01` codecs string; players read every picture,
/// and a stream left by a crash resumes.
#[test]
fn av1_and_fmp4_rungs_are_written_as_fmp4_hls() {
    let t = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let ladder = Ladder::parse(
        r#"[{"name":"h264","preset":"144p"},
            {"name":"av1","width":256,"height":144,"bitrate":"150k","codec":"av1"},
            {"name":"cmaf","preset":"144p","container":"fmp4"}]"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut w = HlsWriter::create(&out, &ladder).unwrap();
    for seq in [0, 1] {
        w.write_segment(seq, &renditions(&t, &ladder, seq)).unwrap();
    }
    drop(w);
    // A crash after two segments: resume picks up the init section in force.
    let (mut w, last) = HlsWriter::resume(&out, &ladder).unwrap();
    assert_eq!(last, Some(1));
    w.write_segment(2, &renditions(&t, &ladder, 2)).unwrap();
    let summary = w.finish().unwrap();
    let master = fs::read_to_string(&summary.master).unwrap();
    assert!(master.contains("#EXT-X-VERSION:7"), "{master}");
    assert!(master.contains("CODECS=\"av01.0."), "{master}");
    assert!(master.contains("RESOLUTION=256x144"), "{master}");
    for (i, rung) in ["av1", "cmaf"].iter().enumerate() {
        let media = fs::read_to_string(&summary.media[i + 1]).unwrap();
        assert!(media.contains("#EXT-X-VERSION:7"), "{media}");
        assert_eq!(
            media.matches("#EXT-X-MAP:URI=\"init.mp4\"").count(),
            1,
            "{media}"
        );
        assert_eq!(media.matches(".m4s").count(), 3, "{media}");
        let rung_dir = out.join(rung);
        assert!(rung_dir.join("init.mp4").is_file() && rung_dir.join("2.m4s").is_file());
    }
    if !have_ffprobe() {
        return;
    }
    // Timestamps run on across segments: no decode time goes back.
    let warnings = Command::new("ffprobe")
        .args([
            "-v",
            "warning",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
        ])
        .arg(&summary.media[1])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&warnings.stderr);
    assert!(!stderr.contains("out of order"), "{stderr}");
    assert_eq!(ffprobe_frames(&summary.media[1]), ("av1".to_owned(), 90));
    assert_eq!(ffprobe_frames(&summary.media[2]), ("h264".to_owned(), 90));
}

/// A rendition whose bytes are not what its rung says is refused before any file changes.
#[test]
fn a_bad_fmp4_or_ivf_rendition_changes_nothing() {
    let t = SoftwareTranscoder::new(SoftwareConfig::default()).unwrap();
    let ladder =
        Ladder::parse(r#"[{"name":"av1","width":128,"height":72,"bitrate":"100k","codec":"av1"}]"#)
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut w = HlsWriter::create(&out, &ladder).unwrap();
    let mut r = renditions(&t, &ladder, 0);
    w.write_segment(0, &r).unwrap();
    let before = fs::read_to_string(out.join("av1").join(MASTER)).unwrap();
    r[0].data = bytes::Bytes::from_static(b"DKIF not really");
    assert!(matches!(
        w.write_segment(1, &r),
        Err(HlsError::BadRendition { .. })
    ));
    assert_eq!(
        fs::read_to_string(out.join("av1").join(MASTER)).unwrap(),
        before
    );
    assert!(!out.join("av1").join("1.m4s").exists());
    let annexb = Ladder::parse(r#"[{"preset":"144p","container":"annexb"}]"#).unwrap();
    assert!(matches!(
        HlsWriter::create(&dir.path().join("x"), &annexb),
        Err(HlsError::Unsupported(_))
    ));
}
