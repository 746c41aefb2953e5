//! The hardware backend, on FFmpeg's libraries (`ffmpeg-next` over Debian's libav*):
//! hardware H.264 decoding through NVDEC (CUDA), VAAPI or QSV, and H.264 encoding through
//! NVENC, each probed separately at run time. What has no hardware falls back to this
//! crate's software parts, so data-centre GPUs with NVDEC and no NVENC (the H100) decode on
//! the GPU and encode with OpenH264; scaling always runs on the CPU.
//!
//! Build needs `pkg-config`, `clang`/`libclang-dev` (bindgen) and the FFmpeg development
//! packages: `libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
//! libswresample-dev libavfilter-dev libavdevice-dev`. At run time the GPU's driver
//! libraries (`libcuda`, `libnvcuvid`, `libnvidia-encode`, a VAAPI driver) must be present.

mod decoder;
mod device;
mod nvenc;

use std::sync::Arc;

use async_trait::async_trait;
use livepeer_core::VideoCodec;
use livepeer_core::transcode::{Capabilities, TranscodeJob, TranscodeOutput, Transcoder};

pub use decoder::HwDecoder;
pub use device::{HwApi, HwDevice};
pub use nvenc::NvencEncoder;

use crate::decode::{H264Decoder, InputLimits, Output, VideoDecoder};
use crate::encode::{VideoEncoder, software_encoder};
use crate::engine::{Backend, Engine};
use crate::error::{Result, TranscodeError};
use crate::software::SoftwareConfig;

/// What the probe found: each part separately.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HwProbe {
    /// APIs whose device opened and decoded a test stream.
    pub decode: Vec<HwApi>,
    /// Whether NVENC opened and encoded a test stream.
    pub nvenc: bool,
    /// Why each missing part is missing, for logs and skip messages.
    pub notes: Vec<String>,
}

impl HwProbe {
    /// Whether anything usable was found.
    pub fn any(&self) -> bool {
        !self.decode.is_empty() || self.nvenc
    }
}

/// Probes NVDEC/CUDA, VAAPI and QSV decoding and NVENC encoding by opening each and coding
/// a few synthetic pictures. Cheap when nothing is there; never panics.
pub fn probe() -> HwProbe {
    let mut p = HwProbe::default();
    if let Err(e) = ffmpeg_next::init() {
        p.notes.push(format!("FFmpeg failed to initialise: {e}"));
        return p;
    }
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    let sample = match crate::testsrc::synthetic_segment(256, 144, 4, 0)
        .and_then(|s| crate::container::ts_demux::demux(&s.data, VideoCodec::H264))
    {
        Ok(d) => d,
        Err(e) => {
            p.notes.push(format!("no test stream: {e}"));
            return p;
        }
    };
    for api in [HwApi::Cuda, HwApi::Vaapi, HwApi::Qsv] {
        let device = match HwDevice::open(api) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                p.notes.push(format!("{api}: no device ({e})"));
                continue;
            }
        };
        let decoded = (|| -> Result<usize> {
            let mut dec = HwDecoder::new(device, InputLimits::default())?;
            let mut n = 0;
            for au in &sample.video {
                dec.send_packet(&au.data, au.pts)?;
                while let Output::Ready(_) = dec.receive_frame()? {
                    n += 1;
                }
            }
            dec.flush()?;
            while let Output::Ready(_) = dec.receive_frame()? {
                n += 1;
            }
            Ok(n)
        })();
        match decoded {
            Ok(4) => p.decode.push(api),
            Ok(n) => p
                .notes
                .push(format!("{api}: decoded {n} of 4 test pictures")),
            Err(e) => p.notes.push(format!("{api}: decode failed ({e})")),
        }
    }
    match nvenc::self_test() {
        Ok(()) => p.nvenc = true,
        Err(e) => p.notes.push(format!("NVENC: {e}")),
    }
    p
}

/// Hardware backend settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HwConfig {
    /// Threads, queue and limits, as for the software backend.
    pub software: SoftwareConfig,
    /// Decoding APIs in order of preference (the first that probed working is used).
    pub prefer: Vec<HwApi>,
    /// Whether to encode H.264 with NVENC when present (else OpenH264).
    pub use_nvenc: bool,
}

impl Default for HwConfig {
    /// CUDA, then VAAPI, then QSV; NVENC when present.
    fn default() -> Self {
        HwConfig {
            software: SoftwareConfig::default(),
            prefer: vec![HwApi::Cuda, HwApi::Vaapi, HwApi::Qsv],
            use_nvenc: true,
        }
    }
}

/// Why the hardware backend did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HwError {
    /// No hardware decoder or encoder works on this machine; the text says what was tried.
    #[error("no usable video hardware: {0}")]
    NoDevice(String),
    /// Hardware was found but the self-test failed.
    #[error("hardware self-test failed: {0}")]
    SelfTest(#[from] TranscodeError),
}

/// A [`Transcoder`] that decodes (and, with NVENC, encodes) on the GPU.
///
/// Its output is not bit-identical to the software backend's (a hardware decoder may round
/// differently, NVENC is another encoder), so it reports `deterministic: false`.
#[derive(Debug)]
pub struct HwTranscoder {
    engine: Engine,
    probe: HwProbe,
}

impl HwTranscoder {
    /// Probes the hardware and starts, or says why it cannot.
    pub fn new(config: HwConfig) -> std::result::Result<Self, HwError> {
        let probe = probe();
        let api = config
            .prefer
            .iter()
            .copied()
            .find(|a| probe.decode.contains(a));
        let nvenc = config.use_nvenc && probe.nvenc;
        if api.is_none() && !nvenc {
            return Err(HwError::NoDevice(probe.notes.join("; ")));
        }
        let device = match api {
            Some(a) => Some(Arc::new(HwDevice::open(a)?)),
            None => None,
        };
        let av1 = config.software.av1;
        let decoder: Box<crate::engine::DecoderFactory> = match device {
            Some(d) => Box::new(
                move |limits: InputLimits| -> Result<Box<dyn VideoDecoder>> {
                    Ok(Box::new(HwDecoder::new(Arc::clone(&d), limits)?))
                },
            ),
            None => Box::new(|limits: InputLimits| -> Result<Box<dyn VideoDecoder>> {
                Ok(Box::new(H264Decoder::new(limits)?))
            }),
        };
        let encoder: Box<crate::pipeline::EncoderFactory> =
            Box::new(move |p, fps| -> Result<Box<dyn VideoEncoder>> {
                if nvenc && p.codec == VideoCodec::H264 {
                    Ok(Box::new(NvencEncoder::new(p, fps)?))
                } else {
                    software_encoder(p, fps, &av1)
                }
            });
        let name = format!(
            "{}+{}",
            api.map_or("openh264", HwApi::decoder_name),
            if nvenc { "nvenc" } else { "openh264" }
        );
        let backend = Backend {
            name,
            hardware: true,
            deterministic: false,
            decoder,
            encoder,
        };
        Ok(HwTranscoder {
            engine: Engine::new(config.software, backend)?,
            probe,
        })
    }

    /// What the probe found.
    pub fn probe(&self) -> &HwProbe {
        &self.probe
    }
}

#[async_trait]
impl Transcoder for HwTranscoder {
    fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput> {
        self.engine.transcode(job).await
    }
}
