//! The generated-media cache shared by every test: safe when many threads (and processes)
//! ask for the same media at once.

use std::sync::{Arc, Barrier};
use std::time::{SystemTime, UNIX_EPOCH};

use livepeer_transcode::conformance::media::{cache_dir, ffmpeg_cached};

#[test]
fn eight_threads_generating_the_same_media_all_get_it() {
    if crate::no_ffmpeg() {
        return;
    }
    // A comment no earlier run used, so the media is generated now rather than found.
    let nonce = format!(
        "livepeer-media-cache-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let comment = format!("comment={nonce}");
    let args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:rate=10",
        "-t",
        "1",
        "-metadata",
        &comment,
        "-c:v",
        "libx264",
        "-f",
        "mpegts",
        "clip.ts",
    ]
    .map(str::to_owned)
    .to_vec();
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (args, start) = (args.clone(), start.clone());
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                start.wait();
                ffmpeg_cached(&args)
            })
        })
        .collect();
    let dirs: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    // Every call returns the same finished folder with the media in it.
    assert!(dirs.iter().all(|d| *d == dirs[0]), "{dirs:?}");
    let clip = std::fs::read(dirs[0].join("clip.ts")).unwrap();
    assert!(!clip.is_empty() && clip[0] == 0x47, "not MPEG-TS");
    assert!(dirs[0].join(".done").exists());
    // The losers' working folders are gone.
    let name = dirs[0].file_name().unwrap().to_str().unwrap().to_owned();
    let leftovers: Vec<_> = std::fs::read_dir(cache_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&name) && *n != name)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A later call finds it without generating.
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ffmpeg_cached(&args).unwrap(), dirs[0]);
    std::fs::remove_dir_all(&dirs[0]).unwrap();
}
