//! Honest work is never a fault: sources made the way real encoders make them (frame rates
//! from 12.5 to 120 including the NTSC ones, cinema crop, portrait, square, odd sizes, B-frames,
//! open and long GOPs, a stream that halves its rate, timestamps starting late or wrapping at
//! 33 bits, grain, slides, dark scenes) through the software transcoder, then every check a
//! `transcode/cpu` broadcaster runs on a sampled segment (headers, every picture compared,
//! the re-encode). Zero faults allowed.

use std::sync::Arc;

use livepeer_core::Ladder;
use livepeer_transcode::SoftwareTranscoder;
use livepeer_verify::openh264::{SoftwareDecoder, SoftwareScaler};
use livepeer_verify::{CheckJob, Checker, VerifyConfig};

use crate::media::{encode_lavfi, have_ffmpeg, request, software, transcode};

/// One source: a name, the lavfi graph (with size and rate) and the x264 settings.
struct Source {
    name: &'static str,
    graph: String,
    x264: Vec<&'static str>,
}

fn src(name: &'static str, graph: &str, x264: &[&'static str]) -> Source {
    Source {
        name,
        graph: graph.to_owned(),
        x264: x264.to_vec(),
    }
}

const PLAIN: &[&str] = &["-preset", "veryfast", "-g", "60", "-b:v", "1500k"];
const BFRAMES: &[&str] = &["-preset", "veryfast", "-bf", "3", "-g", "48", "-crf", "23"];

/// The matrix CI runs: every dimension at least once, small pictures to keep it fast.
fn matrix() -> Vec<Source> {
    let mut v = vec![
        src("12.5 fps", "testsrc2=size=480x270:rate=25/2", BFRAMES),
        src("48 fps", "mandelbrot=size=480x270:rate=48", PLAIN),
        src("100 fps", "testsrc2=size=320x180:rate=100", BFRAMES),
        src(
            "120 fps",
            "smptehdbars=size=320x180:rate=120,hue=H=2*PI*t",
            PLAIN,
        ),
        src(
            "PAL 720x576 16:11 pixels",
            "testsrc2=size=720x576:rate=25,setsar=16/11",
            BFRAMES,
        ),
        src(
            "1920x800 scope 23.976",
            "mandelbrot=size=960x400:rate=24000/1001",
            BFRAMES,
        ),
        src("odd 642x362", "testsrc2=size=642x362:rate=30", PLAIN),
        src("tall 400x1000", "smptehdbars=size=400x1000:rate=30", PLAIN),
        src(
            "life pattern",
            "life=size=480x270:rate=30:mold=10:ratio=0.2",
            BFRAMES,
        ),
        src("cellauto", "cellauto=size=480x270:rate=24:rule=110", PLAIN),
        src(
            "gradients 29.97",
            "gradients=size=480x270:rate=30000/1001:speed=0.05",
            BFRAMES,
        ),
    ];
    for (name, rate) in [
        ("15 fps", "15"),
        ("23.976 fps", "24000/1001"),
        ("24 fps", "24"),
        ("25 fps", "25"),
        ("29.97 fps", "30000/1001"),
        ("50 fps", "50"),
        ("59.94 fps", "60000/1001"),
        ("60 fps", "60"),
    ] {
        v.push(src(
            name,
            &format!("testsrc2=size=480x270:rate={rate}"),
            BFRAMES,
        ));
    }
    v.extend([
        src("cinema crop 640x272", "testsrc2=size=640x272:rate=24", PLAIN),
        src("portrait 360x640", "testsrc2=size=360x640:rate=30", BFRAMES),
        src("square 480x480", "mandelbrot=size=480x480:rate=25", PLAIN),
        src("1000x562", "testsrc2=size=1000x562:rate=30", PLAIN),
        src("QCIF 176x144", "testsrc2=size=176x144:rate=25", PLAIN),
        src(
            "anamorphic 480x360 at 4:3 pixels",
            "testsrc2=size=480x360:rate=25,setsar=4/3",
            BFRAMES,
        ),
        src(
            "all-intra",
            "testsrc2=size=480x270:rate=30",
            &["-preset", "veryfast", "-g", "1", "-b:v", "3M"],
        ),
        src(
            "open GOP, baseline",
            "testsrc2=size=480x270:rate=30",
            &["-preset", "veryfast", "-profile:v", "baseline", "-g", "15", "-x264-params", "open-gop=1", "-b:v", "1M"],
        ),
        src(
            "30 to 15 fps mid-segment",
            "testsrc2=size=480x270:rate=30,select='lt(t\\,1)+not(mod(n\\,2))'",
            &["-preset", "veryfast", "-fps_mode", "vfr", "-g", "60", "-b:v", "1M"],
        ),
        src(
            "timestamps start late",
            "testsrc2=size=480x270:rate=30",
            &["-preset", "veryfast", "-g", "60", "-b:v", "1M", "-output_ts_offset", "3600"],
        ),
        src(
            "timestamps wrap at 33 bits",
            "testsrc2=size=480x270:rate=30",
            &["-preset", "veryfast", "-g", "60", "-b:v", "1M", "-output_ts_offset", "95443"],
        ),
        src(
            "film grain",
            "testsrc2=size=480x270:rate=24,noise=alls=40:allf=t",
            PLAIN,
        ),
        src(
            "near-static slides",
            "color=c=0x203040:size=640x360:rate=30,drawbox=x=40:y=40:w=300:h=40:color=white:t=fill,drawbox=x=40:y=120:w=200:h=20:color=gray:t=fill",
            BFRAMES,
        ),
        src(
            "dark scene",
            "testsrc2=size=480x270:rate=25,eq=brightness=-0.42",
            BFRAMES,
        ),
    ]);
    // Broadcast contribution feeds: MBAFF-coded interlaced pictures, decoded by libavcodec
    // and deinterlaced (feature `libav`; without it they are refused before any work).
    #[cfg(feature = "libav")]
    v.extend([
        src(
            "576i25 MBAFF (PAL broadcast)",
            "testsrc2=size=720x576:rate=25,setsar=16/15",
            INTERLACED,
        ),
        src(
            "1080i29.97 MBAFF",
            "testsrc2=size=1920x1080:rate=30000/1001",
            INTERLACED,
        ),
    ]);
    v
}

/// x264 coding interlaced pictures (MBAFF, top field first), as broadcast encoders do.
#[cfg(feature = "libav")]
const INTERLACED: &[&str] = &[
    "-preset",
    "veryfast",
    "-flags",
    "+ildct+ilme",
    "-x264-params",
    "interlaced=1:tff=1",
    "-g",
    "50",
    "-b:v",
    "4M",
];

fn checker() -> Checker {
    Checker::new(VerifyConfig::default())
        .with_decoder(Arc::new(SoftwareDecoder::new()), Arc::new(SoftwareScaler))
        .with_reencoder(Arc::new(
            SoftwareTranscoder::new(livepeer_transcode::SoftwareConfig::default()).unwrap(),
        ))
}

/// What a matrix run found.
#[derive(Default)]
struct Tally {
    judged: usize,
    /// Findings that stood: a fault against an honest orchestrator.
    flagged: Vec<String>,
    /// Rules an honest reference broke too: recorded, never a fault.
    calibration: Vec<String>,
}

impl Tally {
    /// Prints what was judged and the calibration faults; fails on any fault that stood.
    fn report_and_check(&self, what: &str, sources: usize) {
        eprintln!(
            "{what}: {sources} sources, {} renditions judged, {} flagged, {} calibration faults",
            self.judged,
            self.flagged.len(),
            self.calibration.len()
        );
        for c in &self.calibration {
            eprintln!("calibration: {c}");
        }
        assert!(
            self.flagged.is_empty(),
            "honest work flagged:\n{}",
            self.flagged.join("\n")
        );
    }
}

/// Judges `sources` on `ladder`.
async fn judge(sources: &[Source], ladder: &Ladder) -> Tally {
    let checker = checker();
    let mut t = Tally::default();
    for s in sources {
        let data = encode_lavfi(&s.graph, &s.x264);
        let out = transcode(&data, ladder);
        let renditions: Vec<Vec<u8>> = out.iter().map(|r| r.0.clone()).collect();
        let pixels: Vec<u64> = out.iter().map(|r| r.1).collect();
        let req = request(&data, ladder, &renditions, &pixels, 1);
        let job = Arc::new(CheckJob::from_request(&req));
        let report = checker.run(job, true).await.unwrap();
        t.judged += renditions.len();
        for (info, p) in report.infos.iter().zip(ladder.profiles()) {
            if let Some(bps) = info.as_ref().and_then(|i| i.bitrate_bps()) {
                eprintln!(
                    "bitrate {:>24} {:>16}: {:>5.0}% of {} kb/s",
                    s.name,
                    p.name,
                    bps as f64 * 100.0 / p.bitrate_bps as f64,
                    p.bitrate_bps / 1000
                );
            }
        }
        if let Some(f) = report.finding {
            t.flagged
                .push(format!("{}: {:?} {}", s.name, f.kind, f.detail));
        }
        if let Some(f) = report.calibration {
            t.calibration
                .push(format!("{}: {:?} {}", s.name, f.kind, f.detail));
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_renditions_of_real_world_media_are_never_faults() {
    if !have_ffmpeg() {
        return;
    }
    let _ = software();
    let ladder = Ladder::from_preset_names("P360p30fps16x9,P240p30fps16x9,P144p30fps16x9").unwrap();
    let sources = matrix();
    let t = judge(&sources, &ladder).await;
    t.report_and_check("honest matrix", sources.len());
}

/// AV1 rungs are judged like H.264 ones (decoded with libavcodec's libdav1d and compared
/// picture by picture): honest rav1e output on the sources real broadcasters send is never a
/// fault.
#[cfg(feature = "libav")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_av1_renditions_are_never_faults() {
    if !have_ffmpeg() {
        return;
    }
    let _ = software();
    let wanted = [
        "25 fps",
        "59.94 fps",
        "cinema crop 640x272",
        "portrait 360x640",
        "film grain",
        "near-static slides",
        "576i25 MBAFF (PAL broadcast)",
    ];
    let sources: Vec<Source> = matrix()
        .into_iter()
        .filter(|s| wanted.contains(&s.name))
        .collect();
    assert_eq!(sources.len(), wanted.len());
    let t = judge(&sources, &av1_ladder()).await;
    t.report_and_check("honest AV1", sources.len());
}

#[cfg(feature = "libav")]
fn av1_ladder() -> Ladder {
    Ladder::from_json(
        r#"[{"preset":"P240p30fps16x9","codec":"av1"},{"preset":"P144p30fps16x9","codec":"av1"}]"#,
    )
    .unwrap()
}

/// Every source of the CI matrix to AV1 240p and 144p rungs, printing the rate each
/// rendition reached against its target. About two minutes; run with
/// `cargo test -p livepeer-verify --all-features --test it -- --ignored full_av1 --nocapture`.
#[cfg(feature = "libav")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes: every matrix source to AV1 rungs"]
async fn full_av1_matrix() {
    if !have_ffmpeg() {
        return;
    }
    let sources = matrix();
    let t = judge(&sources, &av1_ladder()).await;
    t.report_and_check("full AV1 matrix", sources.len());
}

/// The larger matrix: every frame rate × every size, content rotating over patterns,
/// fractals, grain, slides, dark scenes and bars, on three of Livepeer's presets. Prints
/// renditions judged, flagged and calibration faults by kind. Minutes; run with
/// `cargo test -p livepeer-verify --test it -- --ignored full_matrix --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes: the full real-world media matrix"]
async fn full_matrix() {
    if !have_ffmpeg() {
        return;
    }
    let rates = [
        "15",
        "24000/1001",
        "24",
        "25",
        "30000/1001",
        "30",
        "50",
        "60000/1001",
        "60",
    ];
    let sizes = [
        "1280x720",
        "854x480",
        "640x272",
        "720x1280",
        "1080x1080",
        "1366x768",
        "1000x562",
        "176x144",
    ];
    let contents = [
        "testsrc2=size={s}:rate={r}",
        "mandelbrot=size={s}:rate={r}",
        "testsrc2=size={s}:rate={r},noise=alls=40:allf=t",
        "color=c=0x203040:size={s}:rate={r},drawbox=x=20:y=20:w=100:h=30:color=white:t=fill",
        "smptehdbars=size={s}:rate={r},eq=brightness=-0.4",
        "smptehdbars=size={s}:rate={r},hue=H=2*PI*t",
    ];
    let settings: [&[&'static str]; 3] = [
        BFRAMES,
        PLAIN,
        &["-preset", "veryfast", "-g", "1", "-b:v", "4M"],
    ];
    let mut sources = Vec::new();
    let mut k = 0;
    for r in rates {
        for s in sizes {
            let graph = contents[k % contents.len()]
                .replace("{s}", s)
                .replace("{r}", r);
            sources.push(Source {
                name: "matrix",
                graph,
                x264: settings[k % settings.len()].to_vec(),
            });
            k += 1;
        }
    }
    let ladder = Ladder::from_preset_names("P720p30fps16x9,P360p30fps16x9,P240p30fps16x9").unwrap();
    let t0 = std::time::Instant::now();
    let t = judge(&sources, &ladder).await;
    let by_kind = |v: &[String]| {
        let mut m = std::collections::BTreeMap::<String, usize>::new();
        for line in v {
            let kind = line
                .split(": ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("?")
                .to_owned();
            *m.entry(kind).or_default() += 1;
        }
        m
    };
    eprintln!(
        "full matrix: {} sources, {} renditions judged, {} flagged {:?}, {} calibration faults {:?}, {:.0} s",
        sources.len(),
        t.judged,
        t.flagged.len(),
        by_kind(&t.flagged),
        t.calibration.len(),
        by_kind(&t.calibration),
        t0.elapsed().as_secs_f64()
    );
    for f in &t.flagged {
        eprintln!("flagged: {f}");
    }
    assert!(t.flagged.is_empty());
}
