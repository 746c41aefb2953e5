//! go-livepeer's `net` protobuf messages (`net/lp_rpc.proto`), declared with prost's derive
//! macros at go-livepeer's field numbers.
//!
//! Only the messages a transcoding gateway and orchestrator exchange are declared. Fields we
//! do not model (`OrchestratorInfo.hardware`, the AI worker messages) are skipped on decode
//! like any unknown field, so an orchestrator that sends them still decodes.
//!
//! Names follow Rust conventions; each field's doc names the proto field where they differ.

use std::collections::BTreeMap;

/// `net.OrchestratorRequest`: a gateway's `GetOrchestrator` call.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct OrchestratorRequest {
    /// The gateway's 20-byte Ethereum address.
    #[prost(bytes = "vec", tag = "1")]
    pub address: Vec<u8>,
    /// 65-byte personal signature over keccak256 of the EIP-55 address string
    /// (see [`crate::orchestrator_request_digest`]).
    #[prost(bytes = "vec", tag = "2")]
    pub sig: Vec<u8>,
    /// The capabilities the gateway needs; `None` asks for the base price.
    #[prost(message, optional, tag = "3")]
    pub capabilities: Option<Capabilities>,
    /// Ask the orchestrator not to refuse for lack of capacity (proto `ignoreCapacityCheck`).
    #[prost(bool, tag = "4")]
    pub ignore_capacity_check: bool,
}

/// `net.EndTranscodingSessionRequest`: ends the session an auth token names.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct EndTranscodingSessionRequest {
    /// The session's token.
    #[prost(message, optional, tag = "1")]
    pub auth_token: Option<AuthToken>,
}

/// `net.PingPong`: the `Ping` call's request and reply.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct PingPong {
    /// Opaque bytes, echoed signed.
    #[prost(bytes = "vec", tag = "1")]
    pub value: Vec<u8>,
}

/// `net.OSInfo`: where results are stored.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct OsInfo {
    /// The storage kind (proto `storageType`): [`os_info::StorageType`].
    #[prost(enumeration = "os_info::StorageType", tag = "1")]
    pub storage_type: i32,
    /// S3 POST policy, for [`os_info::StorageType::S3`].
    #[prost(message, optional, tag = "16")]
    pub s3info: Option<S3OsInfo>,
}

/// Types nested in [`OsInfo`].
pub mod os_info {
    /// `net.OSInfo.StorageType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum StorageType {
        /// The orchestrator's own storage.
        Direct = 0,
        /// An S3-compatible bucket.
        S3 = 1,
        /// Google Cloud Storage.
        Google = 2,
    }
}

/// `net.S3OSInfo`: an S3 POST policy.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct S3OsInfo {
    /// Bucket host.
    #[prost(string, tag = "1")]
    pub host: String,
    /// Object key prefix.
    #[prost(string, tag = "2")]
    pub key: String,
    /// The POST policy.
    #[prost(string, tag = "3")]
    pub policy: String,
    /// The policy's signature.
    #[prost(string, tag = "4")]
    pub signature: String,
    /// The credential.
    #[prost(string, tag = "5")]
    pub credential: String,
    /// The request date (proto `xAmzDate`).
    #[prost(string, tag = "6")]
    pub x_amz_date: String,
}

/// `net.PriceInfo`: `pricePerUnit` wei per `pixelsPerUnit` pixels.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct PriceInfo {
    /// Wei per unit (proto `pricePerUnit`).
    #[prost(int64, tag = "1")]
    pub price_per_unit: i64,
    /// Pixels per unit (proto `pixelsPerUnit`).
    #[prost(int64, tag = "2")]
    pub pixels_per_unit: i64,
    /// The capability this price is for (0 for transcoding's base price).
    #[prost(uint32, tag = "3")]
    pub capability: u32,
    /// A capability constraint, such as a model id.
    #[prost(string, tag = "4")]
    pub constraint: String,
}

/// `net.Capabilities`: a node's capability bit string, capacities and constraints.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Capabilities {
    /// Capability bits, 64 per word.
    #[prost(uint64, repeated, tag = "1")]
    pub bitstring: Vec<u64>,
    /// Capabilities the other side must have.
    #[prost(uint64, repeated, tag = "2")]
    pub mandatories: Vec<u64>,
    /// Capacity per capability.
    #[prost(btree_map = "uint32, uint32", tag = "3")]
    pub capacities: BTreeMap<u32, u32>,
    /// The node's software version.
    #[prost(string, tag = "4")]
    pub version: String,
    /// Version and per-capability constraints.
    #[prost(message, optional, tag = "5")]
    pub constraints: Option<capabilities::Constraints>,
}

/// Types nested in [`Capabilities`].
pub mod capabilities {
    use std::collections::BTreeMap;

    /// `net.Capabilities.Constraints`.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Constraints {
        /// The oldest version accepted (proto `minVersion`).
        #[prost(string, tag = "1")]
        pub min_version: String,
        /// Constraints per capability (proto `PerCapability`).
        #[prost(btree_map = "uint32, message", tag = "2")]
        pub per_capability: BTreeMap<u32, CapabilityConstraints>,
    }

    /// `net.Capabilities.CapabilityConstraints`.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct CapabilityConstraints {
        /// Constraints per model id.
        #[prost(btree_map = "string, message", tag = "1")]
        pub models: BTreeMap<String, ModelConstraint>,
    }

    /// `net.Capabilities.CapabilityConstraints.ModelConstraint`.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ModelConstraint {
        /// Whether the model is loaded.
        #[prost(bool, tag = "1")]
        pub warm: bool,
        /// How many requests it can serve at once.
        #[prost(uint32, tag = "2")]
        pub capacity: u32,
        /// The runner's version (proto `runnerVersion`).
        #[prost(string, tag = "3")]
        pub runner_version: String,
        /// How many are in use (proto `capacityInUse`).
        #[prost(uint32, tag = "4")]
        pub capacity_in_use: u32,
    }
}

/// `net.OrchestratorInfo`: an orchestrator's answer to `GetOrchestrator`, and the refreshed
/// info a segment's result carries.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct OrchestratorInfo {
    /// Base URI for `/segment`.
    #[prost(string, tag = "1")]
    pub transcoder: String,
    /// The params to sign tickets against.
    #[prost(message, optional, tag = "2")]
    pub ticket_params: Option<TicketParams>,
    /// The price, echoed verbatim as a payment's expected price.
    #[prost(message, optional, tag = "3")]
    pub price_info: Option<PriceInfo>,
    /// The key that signs results (the on-chain address, or a hot key with `-ethOrchAddr`).
    #[prost(bytes = "vec", tag = "4")]
    pub address: Vec<u8>,
    /// The orchestrator's capabilities.
    #[prost(message, optional, tag = "5")]
    pub capabilities: Option<Capabilities>,
    /// The session's token, copied into every segment.
    #[prost(message, optional, tag = "6")]
    pub auth_token: Option<AuthToken>,
    /// Storage the gateway may upload to.
    #[prost(message, repeated, tag = "32")]
    pub storage: Vec<OsInfo>,
    /// Prices per capability.
    #[prost(message, repeated, tag = "33")]
    pub capabilities_prices: Vec<PriceInfo>,
    /// Other endpoints of the same orchestrator.
    #[prost(string, repeated, tag = "34")]
    pub nodes: Vec<String>,
}

/// `net.AuthToken`: the orchestrator's session credential.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct AuthToken {
    /// HMAC of the session id and expiry under the orchestrator's secret.
    #[prost(bytes = "vec", tag = "1")]
    pub token: Vec<u8>,
    /// The session id; the orchestrator keys balances by it.
    #[prost(string, tag = "2")]
    pub session_id: String,
    /// Unix seconds at which the token expires.
    #[prost(int64, tag = "3")]
    pub expiration: i64,
}

/// `net.SegData`: the `Livepeer-Segment` header's content.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SegData {
    /// The stream's manifest id (proto `manifestId`); only covered by the signature.
    #[prost(bytes = "vec", tag = "1")]
    pub manifest_id: Vec<u8>,
    /// The segment's sequence number.
    #[prost(int64, tag = "2")]
    pub seq: i64,
    /// keccak256 of the segment body.
    #[prost(bytes = "vec", tag = "3")]
    pub hash: Vec<u8>,
    /// Legacy profile list; go-livepeer sends `"invalid"` so very old orchestrators fail.
    #[prost(bytes = "vec", tag = "4")]
    pub profiles: Vec<u8>,
    /// The gateway's personal signature over keccak256 of the flattened segment
    /// (see [`crate::seg_data_digest`]).
    #[prost(bytes = "vec", tag = "5")]
    pub sig: Vec<u8>,
    /// Duration in milliseconds; 0 means 2 s.
    #[prost(int32, tag = "6")]
    pub duration: i32,
    /// The capabilities the segment needs; `None` means legacy transcoding.
    #[prost(message, optional, tag = "7")]
    pub capabilities: Option<Capabilities>,
    /// The orchestrator's token, copied verbatim from its info.
    #[prost(message, optional, tag = "8")]
    pub auth_token: Option<AuthToken>,
    /// Ask for a perceptual hash of each rendition.
    #[prost(bool, tag = "10")]
    pub calc_perceptual_hash: bool,
    /// The gateway's own storage for results.
    #[prost(message, repeated, tag = "32")]
    pub storage: Vec<OsInfo>,
    /// Renditions when all are MPEG-TS with integer fps and default profile and GOP
    /// (proto `fullProfiles`).
    #[prost(message, repeated, tag = "33")]
    pub full_profiles: Vec<VideoProfile>,
    /// Renditions when some are not MPEG-TS but all have those defaults (proto
    /// `fullProfiles2`).
    #[prost(message, repeated, tag = "34")]
    pub full_profiles2: Vec<VideoProfile>,
    /// Renditions otherwise (proto `fullProfiles3`).
    #[prost(message, repeated, tag = "35")]
    pub full_profiles3: Vec<VideoProfile>,
    /// A clip of the segment to transcode.
    #[prost(message, optional, tag = "37")]
    pub segment_parameters: Option<SegParameters>,
    /// Ask the transcoder to start a new session (proto `ForceSessionReinit`).
    #[prost(bool, tag = "38")]
    pub force_session_reinit: bool,
}

impl SegData {
    /// The renditions, from the field the orchestrator reads first: `fullProfiles3`, then
    /// `fullProfiles2`, then `fullProfiles`.
    pub fn renditions(&self) -> &[VideoProfile] {
        if !self.full_profiles3.is_empty() {
            &self.full_profiles3
        } else if !self.full_profiles2.is_empty() {
            &self.full_profiles2
        } else {
            &self.full_profiles
        }
    }
}

/// `net.SegParameters`: a clip, in milliseconds.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SegParameters {
    /// Start of the clip.
    #[prost(uint64, tag = "1")]
    pub from: u64,
    /// End of the clip.
    #[prost(uint64, tag = "2")]
    pub to: u64,
}

/// `net.VideoProfile`: one rendition.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct VideoProfile {
    /// The rendition's name; empty means `net_<w>x<h>_<bitrate>` on the orchestrator.
    #[prost(string, tag = "16")]
    pub name: String,
    /// Width in pixels.
    #[prost(int32, tag = "17")]
    pub width: i32,
    /// Height in pixels.
    #[prost(int32, tag = "18")]
    pub height: i32,
    /// Bitrate in bits per second.
    #[prost(int32, tag = "19")]
    pub bitrate: i32,
    /// Frame rate numerator; 0 passes the source's rate through.
    #[prost(uint32, tag = "20")]
    pub fps: u32,
    /// Container: [`video_profile::Format`].
    #[prost(enumeration = "video_profile::Format", tag = "21")]
    pub format: i32,
    /// Frame rate denominator (proto `fpsDen`); 0 means 1.
    #[prost(uint32, tag = "22")]
    pub fps_den: u32,
    /// Encoder profile: [`video_profile::Profile`].
    #[prost(enumeration = "video_profile::Profile", tag = "23")]
    pub profile: i32,
    /// GOP length in milliseconds (negative values are special intra-only settings).
    #[prost(int32, tag = "24")]
    pub gop: i32,
    /// Codec: [`video_profile::VideoCodec`].
    #[prost(enumeration = "video_profile::VideoCodec", tag = "25")]
    pub encoder: i32,
    /// Bit depth (proto `colorDepth`).
    #[prost(int32, tag = "26")]
    pub color_depth: i32,
    /// Chroma subsampling (proto `chromaFormat`): [`video_profile::ChromaSubsampling`].
    #[prost(enumeration = "video_profile::ChromaSubsampling", tag = "27")]
    pub chroma_format: i32,
    /// Encoder quality (CRF-like; 0 means bitrate mode).
    #[prost(uint32, tag = "28")]
    pub quality: u32,
}

/// Enumerations nested in [`VideoProfile`].
pub mod video_profile {
    /// `net.VideoProfile.Format`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum Format {
        /// MPEG transport stream.
        Mpegts = 0,
        /// Fragmented MP4.
        Mp4 = 1,
    }

    /// `net.VideoProfile.Profile`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum Profile {
        /// The encoder's default.
        EncoderDefault = 0,
        /// H.264 Baseline.
        H264Baseline = 1,
        /// H.264 Main.
        H264Main = 2,
        /// H.264 High.
        H264High = 3,
        /// H.264 Constrained High.
        H264ConstrainedHigh = 4,
    }

    /// `net.VideoProfile.VideoCodec`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum VideoCodec {
        /// H.264.
        H264 = 0,
        /// H.265.
        H265 = 1,
        /// VP8.
        Vp8 = 2,
        /// VP9.
        Vp9 = 3,
    }

    /// `net.VideoProfile.ChromaSubsampling`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum ChromaSubsampling {
        /// 4:2:0.
        Chroma420 = 0,
        /// 4:2:2.
        Chroma422 = 1,
        /// 4:4:4.
        Chroma444 = 2,
    }
}

/// `net.TranscodedSegmentData`: one rendition of a transcoded segment.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TranscodedSegmentData {
    /// Where to GET the rendition.
    #[prost(string, tag = "1")]
    pub url: String,
    /// Pixels encoded.
    #[prost(int64, tag = "2")]
    pub pixels: i64,
    /// Where to GET its perceptual hash, if asked for.
    #[prost(string, tag = "3")]
    pub perceptual_hash_url: String,
}

/// `net.TranscodeData`: the renditions and the orchestrator's signature over them.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TranscodeData {
    /// One entry per requested rendition, in order.
    #[prost(message, repeated, tag = "1")]
    pub segments: Vec<TranscodedSegmentData>,
    /// Personal signature over keccak256 of the renditions' keccak256 hashes
    /// (see [`crate::transcode_result_digest`]).
    #[prost(bytes = "vec", tag = "2")]
    pub sig: Vec<u8>,
}

/// `net.TranscodeResult`: the body of `/segment`'s response.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TranscodeResult {
    /// The segment's sequence number.
    #[prost(int64, tag = "1")]
    pub seq: i64,
    /// The outcome: an error string or the renditions.
    #[prost(oneof = "transcode_result::Result", tags = "2, 3")]
    pub result: Option<transcode_result::Result>,
    /// Refreshed orchestrator info (new ticket params; the auth token is kept).
    #[prost(message, optional, tag = "16")]
    pub info: Option<OrchestratorInfo>,
}

/// Types nested in [`TranscodeResult`].
pub mod transcode_result {
    /// The `result` oneof.
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Result {
        /// The orchestrator's error string (see [`crate::RemoteError`]).
        #[prost(string, tag = "2")]
        Error(String),
        /// The renditions.
        #[prost(message, tag = "3")]
        Data(super::TranscodeData),
    }
}

/// `net.PaymentResult`: the body of `/payment`'s response.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct PaymentResult {
    /// Refreshed orchestrator info.
    #[prost(message, optional, tag = "16")]
    pub info: Option<OrchestratorInfo>,
}

/// `net.TicketParams`: ticket params with big integers as minimal big-endian bytes.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TicketParams {
    /// The recipient's 20-byte address.
    #[prost(bytes = "vec", tag = "1")]
    pub recipient: Vec<u8>,
    /// Face value in wei.
    #[prost(bytes = "vec", tag = "2")]
    pub face_value: Vec<u8>,
    /// Win probability as a fraction of 2^256 − 1.
    #[prost(bytes = "vec", tag = "3")]
    pub win_prob: Vec<u8>,
    /// keccak256 of the recipient's random number (32 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub recipient_rand_hash: Vec<u8>,
    /// The seed the recipient re-derives its random number from.
    #[prost(bytes = "vec", tag = "5")]
    pub seed: Vec<u8>,
    /// The L1 block the params expire at.
    #[prost(bytes = "vec", tag = "6")]
    pub expiration_block: Vec<u8>,
    /// Creation round and its block hash.
    #[prost(message, optional, tag = "7")]
    pub expiration_params: Option<TicketExpirationParams>,
}

/// `net.TicketSenderParams`: one ticket of a payment.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TicketSenderParams {
    /// The sender's nonce, from 1.
    #[prost(uint32, tag = "1")]
    pub sender_nonce: u32,
    /// The sender's 65-byte personal signature over the ticket hash.
    #[prost(bytes = "vec", tag = "2")]
    pub sig: Vec<u8>,
}

/// `net.TicketExpirationParams`.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct TicketExpirationParams {
    /// The round the params were created in.
    #[prost(int64, tag = "1")]
    pub creation_round: i64,
    /// The block hash recorded for that round (32 bytes).
    #[prost(bytes = "vec", tag = "2")]
    pub creation_round_block_hash: Vec<u8>,
}

/// `net.Payment`: the `Livepeer-Payment` header's content.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Payment {
    /// The params the tickets use (fields 1–6; go-livepeer leaves 7 unset here).
    #[prost(message, optional, tag = "1")]
    pub ticket_params: Option<TicketParams>,
    /// The sender's 20-byte address.
    #[prost(bytes = "vec", tag = "2")]
    pub sender: Vec<u8>,
    /// Creation round and block hash of the tickets.
    #[prost(message, optional, tag = "3")]
    pub expiration_params: Option<TicketExpirationParams>,
    /// The tickets.
    #[prost(message, repeated, tag = "4")]
    pub ticket_sender_params: Vec<TicketSenderParams>,
    /// The orchestrator's price, echoed verbatim.
    #[prost(message, optional, tag = "5")]
    pub expected_price: Option<PriceInfo>,
}
