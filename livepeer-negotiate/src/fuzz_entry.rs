//! Entry points shared by the fuzz targets and the corpus-replay tests. Not a stable API.

use std::time::{Duration, Instant};

use crate::proto::{FrameDecoder, Message, MessageType, ReadEvent, ReadLimits, StreamReader};

/// Runs the codec on `data`: as a frame stream (every decoded message must re-encode and
/// decode to itself), and through a stream reader fed in small pieces. Never panics.
pub fn decode_all(data: &[u8]) {
    let mut dec = FrameDecoder::new();
    dec.handle_data(data);
    while let Ok(Some(m)) = dec.poll_frame() {
        if let Ok(frame) = m.encode() {
            let mut again = FrameDecoder::new();
            again.handle_data(&frame);
            let back = again.poll_frame();
            assert_eq!(back, Ok(Some(m)), "a decoded message re-encodes to itself");
        }
    }
    let now = Instant::now();
    let mut reader = StreamReader::new(
        now,
        &MessageType::ALL,
        ReadLimits::new(Duration::from_secs(1), Duration::from_secs(10)).with_max_body(1 << 20),
    );
    for (i, piece) in data.chunks(7).enumerate() {
        reader.handle_data(now + Duration::from_millis(i as u64), piece);
        if let Some(ev) = reader.poll_event() {
            if let ReadEvent::Done(a) = ev {
                let _ = Message::encode(&a.head);
            }
            return;
        }
    }
    reader.handle_end(now);
    let _ = reader.poll_event();
}
