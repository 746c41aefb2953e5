//! Video profiles and ladders: Livepeer's preset table, preset-name parsing, and ladder
//! descriptions in JSON or TOML.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::crypto::keccak256;
use crate::error::ParseError;
use crate::media::{Container, Framerate, H264Profile, VideoCodec};
use crate::primitives::H256;

/// Smallest and largest output dimensions accepted.
pub const MIN_DIMENSION: u32 = 16;
/// Largest output width (8K).
pub const MAX_WIDTH: u32 = 7680;
/// Largest output height (8K).
pub const MAX_HEIGHT: u32 = 4320;
/// Highest bitrate accepted, in bits per second.
pub const MAX_BITRATE: u64 = 200_000_000;
/// Most renditions in one ladder.
pub const MAX_LADDER_RUNGS: usize = 16;
/// Largest ladder description accepted, in bytes.
pub const MAX_LADDER_DOC: usize = 64 * 1024;

/// Where key frames go in a rendition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Gop {
    /// One IDR at the start of every segment and none after: the deterministic default, so
    /// any segment can be re-encoded alone.
    Segment,
    /// An IDR every this many frames (and at every segment start).
    Frames(u32),
    /// Every frame is an IDR.
    IntraOnly,
}

/// One rendition of a transcoding ladder.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VideoProfile {
    /// A display name, e.g. `P720p30fps16x9` (does not affect the output).
    pub name: String,
    /// Output width in pixels (even).
    pub width: u32,
    /// Output height in pixels (even).
    pub height: u32,
    /// Target bitrate in bits per second.
    pub bitrate_bps: u64,
    /// Output frame rate; `None` keeps the source's.
    pub framerate: Option<Framerate>,
    /// Output codec.
    pub codec: VideoCodec,
    /// H.264 profile when `codec` is H.264.
    pub h264_profile: Option<H264Profile>,
    /// Key-frame placement.
    pub gop: Gop,
    /// Output container.
    pub container: Container,
}

impl VideoProfile {
    /// Checks dimensions, bitrate, codec and container agree and are within bounds.
    pub fn validate(&self) -> Result<(), ParseError> {
        const WHAT: &str = "profile";
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(ParseError::invalid(WHAT, "name must be 1 to 64 bytes"));
        }
        if let Some((at, ch)) = self
            .name
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_graphic()))
        {
            return Err(ParseError::BadChar {
                what: "profile name",
                ch,
                at,
            });
        }
        if !(MIN_DIMENSION..=MAX_WIDTH).contains(&self.width)
            || !(MIN_DIMENSION..=MAX_HEIGHT).contains(&self.height)
        {
            return Err(ParseError::invalid(
                WHAT,
                format!(
                    "{}x{} is outside {MIN_DIMENSION}x{MIN_DIMENSION}..{MAX_WIDTH}x{MAX_HEIGHT}",
                    self.width, self.height
                ),
            ));
        }
        if !self.width.is_multiple_of(2) || !self.height.is_multiple_of(2) {
            return Err(ParseError::invalid(
                WHAT,
                format!(
                    "{}x{}: 4:2:0 needs even dimensions",
                    self.width, self.height
                ),
            ));
        }
        if self.bitrate_bps < 1_000 || self.bitrate_bps > MAX_BITRATE {
            return Err(ParseError::invalid(
                WHAT,
                "bitrate must be between 1 kb/s and 200 Mb/s",
            ));
        }
        if let Some(f) = self.framerate {
            Framerate::new(f.num, f.den)?;
        }
        if let Gop::Frames(0) = self.gop {
            return Err(ParseError::invalid(WHAT, "gop of 0 frames"));
        }
        match (self.codec, self.h264_profile) {
            (VideoCodec::H264, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(ParseError::invalid(
                    WHAT,
                    "an H.264 profile on a non-H.264 codec",
                ));
            }
        }
        let ok_container = match self.codec {
            VideoCodec::H264 | VideoCodec::Hevc => {
                matches!(
                    self.container,
                    Container::MpegTs | Container::Mp4 | Container::Fmp4 | Container::AnnexB
                )
            }
            VideoCodec::Av1 | VideoCodec::Vp9 | VideoCodec::Vp8 => {
                matches!(
                    self.container,
                    Container::Mp4 | Container::Fmp4 | Container::Ivf
                )
            }
        };
        if !ok_container {
            return Err(ParseError::invalid(
                WHAT,
                format!("{} cannot be carried in {}", self.codec, self.container),
            ));
        }
        Ok(())
    }

    /// Pixels per frame.
    pub fn pixels_per_frame(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The canonical text of everything that shapes the output (not the name).
    pub fn canonical(&self) -> String {
        let fps = self
            .framerate
            .map_or_else(|| "source".to_owned(), |f| format!("{}/{}", f.num, f.den));
        let prof = self.h264_profile.map_or("-", |p| p.as_str());
        let gop = match self.gop {
            Gop::Segment => "segment".to_owned(),
            Gop::Frames(n) => format!("{n}"),
            Gop::IntraOnly => "intra".to_owned(),
        };
        format!(
            "{}:{}:{}x{}:{}:{}:{}:{}",
            self.codec, prof, self.width, self.height, fps, self.bitrate_bps, gop, self.container
        )
    }

    /// The profile id that receipts and claims sign: keccak256 of [`Self::canonical`].
    pub fn id(&self) -> H256 {
        H256::from(keccak256(self.canonical().as_bytes()))
    }

    /// A Livepeer preset (`P720p30fps16x9`, …) or one of the short names (`720p`, `480p`, …).
    pub fn preset(name: &str) -> Result<VideoProfile, ParseError> {
        let n = name.trim();
        let key = n.to_ascii_lowercase();
        let p = PRESETS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&key))
            .ok_or_else(|| ParseError::unknown("preset", n))?;
        Ok(p.to_profile())
    }
}

impl fmt::Display for VideoProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}x{} {} {} kb/s)",
            self.name,
            self.width,
            self.height,
            self.codec,
            self.bitrate_bps / 1000
        )
    }
}

impl FromStr for VideoProfile {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        VideoProfile::preset(s)
    }
}

struct Preset {
    name: &'static str,
    width: u32,
    height: u32,
    kbps: u64,
    fps: u32,
}

impl Preset {
    fn to_profile(&self) -> VideoProfile {
        VideoProfile {
            name: self.name.to_owned(),
            width: self.width,
            height: self.height,
            bitrate_bps: self.kbps * 1000,
            framerate: Some(Framerate {
                num: self.fps,
                den: 1,
            }),
            codec: VideoCodec::H264,
            h264_profile: Some(H264Profile::ConstrainedBaseline),
            gop: Gop::Segment,
            container: Container::MpegTs,
        }
    }
}

/// Livepeer's preset table (same names, sizes, bitrates and frame rates), then short names
/// for a 16:9 ladder at 30 fps.
const PRESETS: &[Preset] = &[
    Preset {
        name: "P720p60fps16x9",
        width: 1280,
        height: 720,
        kbps: 6000,
        fps: 60,
    },
    Preset {
        name: "P720p30fps16x9",
        width: 1280,
        height: 720,
        kbps: 4000,
        fps: 30,
    },
    Preset {
        name: "P720p25fps16x9",
        width: 1280,
        height: 720,
        kbps: 3500,
        fps: 25,
    },
    Preset {
        name: "P720p30fps4x3",
        width: 960,
        height: 720,
        kbps: 3500,
        fps: 30,
    },
    Preset {
        name: "P576p30fps16x9",
        width: 1024,
        height: 576,
        kbps: 1500,
        fps: 30,
    },
    Preset {
        name: "P576p25fps16x9",
        width: 1024,
        height: 576,
        kbps: 1500,
        fps: 25,
    },
    Preset {
        name: "P360p30fps16x9",
        width: 640,
        height: 360,
        kbps: 1200,
        fps: 30,
    },
    Preset {
        name: "P360p25fps16x9",
        width: 640,
        height: 360,
        kbps: 1000,
        fps: 25,
    },
    Preset {
        name: "P360p30fps4x3",
        width: 480,
        height: 360,
        kbps: 1000,
        fps: 30,
    },
    Preset {
        name: "P240p30fps16x9",
        width: 426,
        height: 240,
        kbps: 600,
        fps: 30,
    },
    Preset {
        name: "P240p25fps16x9",
        width: 426,
        height: 240,
        kbps: 600,
        fps: 25,
    },
    Preset {
        name: "P240p30fps4x3",
        width: 320,
        height: 240,
        kbps: 600,
        fps: 30,
    },
    Preset {
        name: "P144p30fps16x9",
        width: 256,
        height: 144,
        kbps: 400,
        fps: 30,
    },
    Preset {
        name: "1080p",
        width: 1920,
        height: 1080,
        kbps: 6000,
        fps: 30,
    },
    Preset {
        name: "720p",
        width: 1280,
        height: 720,
        kbps: 3000,
        fps: 30,
    },
    Preset {
        name: "480p",
        width: 854,
        height: 480,
        kbps: 1600,
        fps: 30,
    },
    Preset {
        name: "360p",
        width: 640,
        height: 360,
        kbps: 800,
        fps: 30,
    },
    Preset {
        name: "240p",
        width: 426,
        height: 240,
        kbps: 400,
        fps: 30,
    },
    Preset {
        name: "144p",
        width: 256,
        height: 144,
        kbps: 200,
        fps: 30,
    },
];

/// The names of every preset [`VideoProfile::preset`] knows.
pub fn preset_names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

/// A ladder: the renditions a segment is transcoded to, with unique names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Ladder(Vec<VideoProfile>);

impl Ladder {
    /// A ladder of validated profiles with unique names, 1 to 16 of them.
    pub fn new(profiles: Vec<VideoProfile>) -> Result<Self, ParseError> {
        if profiles.is_empty() {
            return Err(ParseError::Empty { what: "ladder" });
        }
        if profiles.len() > MAX_LADDER_RUNGS {
            return Err(ParseError::TooLong {
                what: "ladder",
                len: profiles.len(),
                max: MAX_LADDER_RUNGS,
            });
        }
        for (i, p) in profiles.iter().enumerate() {
            p.validate()?;
            if profiles[..i].iter().any(|q| q.name == p.name) {
                return Err(ParseError::invalid(
                    "ladder",
                    format!("duplicate rendition name {:?}", p.name),
                ));
            }
        }
        Ok(Ladder(profiles))
    }

    /// The profiles, in order.
    pub fn profiles(&self) -> &[VideoProfile] {
        &self.0
    }

    /// The profile ids, in order.
    pub fn ids(&self) -> Vec<H256> {
        self.0.iter().map(VideoProfile::id).collect()
    }

    /// Parses a comma-separated list of preset names: `P720p30fps16x9,P360p30fps16x9`.
    pub fn from_preset_names(s: &str) -> Result<Self, ParseError> {
        if s.len() > MAX_LADDER_DOC {
            return Err(ParseError::TooLong {
                what: "ladder",
                len: s.len(),
                max: MAX_LADDER_DOC,
            });
        }
        let profiles = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .take(MAX_LADDER_RUNGS + 1)
            .map(VideoProfile::preset)
            .collect::<Result<Vec<_>, _>>()?;
        Ladder::new(profiles)
    }

    /// Parses a JSON ladder: an array of profile specs, or `{"profiles": [...]}`.
    pub fn from_json(s: &str) -> Result<Self, ParseError> {
        check_doc_len(s)?;
        let doc: LadderDoc = serde_json::from_str(s).map_err(|e| ParseError::Format {
            what: "ladder json",
            reason: e.to_string(),
        })?;
        doc.into_ladder()
    }

    /// Parses a TOML ladder: `[[profiles]]` tables.
    pub fn from_toml(s: &str) -> Result<Self, ParseError> {
        check_doc_len(s)?;
        let doc: LadderTable = toml::from_str(s).map_err(|e| ParseError::Format {
            what: "ladder toml",
            reason: e.to_string(),
        })?;
        LadderDoc::Table(doc).into_ladder()
    }

    /// Parses whichever form `s` is in: JSON (starts with `[` or `{`), TOML (has `[[profiles]]`),
    /// else preset names.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim_start();
        if t.starts_with('[') && !t.starts_with("[[") || t.starts_with('{') {
            Ladder::from_json(s)
        } else if t.contains("[[profiles]]") {
            Ladder::from_toml(s)
        } else {
            Ladder::from_preset_names(s)
        }
    }
}

impl<'de> Deserialize<'de> for Ladder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<VideoProfile>::deserialize(d)?;
        Ladder::new(v).map_err(serde::de::Error::custom)
    }
}

impl FromStr for Ladder {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Ladder::parse(s)
    }
}

fn check_doc_len(s: &str) -> Result<(), ParseError> {
    if s.len() > MAX_LADDER_DOC {
        return Err(ParseError::TooLong {
            what: "ladder",
            len: s.len(),
            max: MAX_LADDER_DOC,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LadderDoc {
    List(Vec<ProfileSpec>),
    Table(LadderTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LadderTable {
    profiles: Vec<ProfileSpec>,
}

impl LadderDoc {
    fn into_ladder(self) -> Result<Ladder, ParseError> {
        let specs = match self {
            LadderDoc::List(v) => v,
            LadderDoc::Table(t) => t.profiles,
        };
        if specs.len() > MAX_LADDER_RUNGS {
            return Err(ParseError::TooLong {
                what: "ladder",
                len: specs.len(),
                max: MAX_LADDER_RUNGS,
            });
        }
        Ladder::new(
            specs
                .into_iter()
                .map(ProfileSpec::into_profile)
                .collect::<Result<_, _>>()?,
        )
    }
}

/// A number or a string such as `"3000k"`, `"1.6M"`, `"30000/1001"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(u64),
    Float(f64),
    Text(String),
}

/// One profile in a ladder document. Field names follow Livepeer's JSON profiles where
/// one exists (`fpsDen`, `profile`, `gop`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProfileSpec {
    name: Option<String>,
    preset: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    bitrate: Option<NumOrText>,
    fps: Option<NumOrText>,
    fps_den: Option<u32>,
    codec: Option<String>,
    #[serde(alias = "encoder")]
    profile: Option<String>,
    gop: Option<NumOrText>,
    container: Option<String>,
}

impl ProfileSpec {
    fn into_profile(self) -> Result<VideoProfile, ParseError> {
        let mut p = match &self.preset {
            Some(name) => VideoProfile::preset(name)?,
            None => {
                let (Some(width), Some(height)) = (self.width, self.height) else {
                    return Err(ParseError::invalid(
                        "profile",
                        "needs a preset, or width and height",
                    ));
                };
                VideoProfile {
                    name: format!("{height}p"),
                    width,
                    height,
                    bitrate_bps: 0,
                    framerate: None,
                    codec: VideoCodec::H264,
                    h264_profile: Some(H264Profile::ConstrainedBaseline),
                    gop: Gop::Segment,
                    container: Container::MpegTs,
                }
            }
        };
        if let Some(n) = self.name {
            p.name = n;
        }
        if let Some(w) = self.width {
            p.width = w;
        }
        if let Some(h) = self.height {
            p.height = h;
        }
        match self.bitrate {
            Some(b) => p.bitrate_bps = parse_bitrate_value(b)?,
            None if p.bitrate_bps == 0 => {
                return Err(ParseError::invalid("profile", "needs a bitrate"));
            }
            None => {}
        }
        if let Some(c) = self.codec {
            p.codec = c.parse()?;
            if p.codec != VideoCodec::H264 {
                p.h264_profile = None;
                if p.container == Container::MpegTs {
                    p.container = Container::Ivf;
                }
            }
        }
        if let Some(pr) = self.profile {
            p.h264_profile = Some(pr.parse()?);
        }
        match (self.fps, self.fps_den) {
            (Some(NumOrText::Num(0)), _) => p.framerate = None,
            (Some(NumOrText::Num(n)), den) => {
                let n =
                    u32::try_from(n).map_err(|_| ParseError::invalid("frame rate", "too large"))?;
                p.framerate = Some(Framerate::new(n, den.unwrap_or(1))?);
            }
            (Some(NumOrText::Float(f)), None) => p.framerate = Some(format!("{f}").parse()?),
            (Some(NumOrText::Text(t)), None) => p.framerate = Some(t.parse()?),
            (Some(_), Some(_)) => {
                return Err(ParseError::invalid(
                    "frame rate",
                    "fpsDen needs an integer fps",
                ));
            }
            (None, Some(_)) => return Err(ParseError::invalid("frame rate", "fpsDen without fps")),
            (None, None) => {}
        }
        if let Some(g) = self.gop {
            p.gop = match g {
                NumOrText::Num(n) => Gop::Frames(
                    u32::try_from(n).map_err(|_| ParseError::invalid("gop", "too large"))?,
                ),
                NumOrText::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                    "segment" => Gop::Segment,
                    "intra" | "intra-only" => Gop::IntraOnly,
                    other => {
                        Gop::Frames(other.parse().map_err(|_| ParseError::unknown("gop", &t))?)
                    }
                },
                NumOrText::Float(_) => {
                    return Err(ParseError::invalid(
                        "gop",
                        "a frame count, \"segment\" or \"intra\"",
                    ));
                }
            };
        }
        if let Some(c) = self.container {
            p.container = c.parse()?;
        }
        p.validate()?;
        Ok(p)
    }
}

fn parse_bitrate_value(v: NumOrText) -> Result<u64, ParseError> {
    match v {
        NumOrText::Num(n) => Ok(n),
        NumOrText::Float(_) => Err(ParseError::invalid(
            "bitrate",
            "a whole number of bits per second, or \"3000k\"",
        )),
        NumOrText::Text(t) => parse_bitrate(&t),
    }
}

/// Parses a bitrate: bits per second, or with a `k`/`M` suffix (`3000k`, `1.6M`, `800kbps`).
pub fn parse_bitrate(s: &str) -> Result<u64, ParseError> {
    const WHAT: &str = "bitrate";
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("bps")
        .or_else(|| t.strip_suffix("b/s"))
        .unwrap_or(&t)
        .trim();
    let (num, scale) = if let Some(n) = t.strip_suffix('k') {
        (n, 1_000u64)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1_000_000)
    } else {
        (t, 1)
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty()
        || int.len() > 12
        || frac.len() > 6
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ParseError::number(
            WHAT,
            s,
            "expected e.g. 3000000, 3000k or 3M",
        ));
    }
    let int_v: u64 = int
        .parse()
        .map_err(|_| ParseError::number(WHAT, s, "too large"))?;
    let frac_v: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse()
            .map_err(|_| ParseError::number(WHAT, s, "bad fraction"))?
    };
    let frac_scaled = frac_v * scale / 10u64.pow(frac.len() as u32);
    int_v
        .checked_mul(scale)
        .and_then(|v| v.checked_add(frac_scaled))
        .ok_or_else(|| ParseError::number(WHAT, s, "too large"))
}

#[cfg(test)]
mod tests;
