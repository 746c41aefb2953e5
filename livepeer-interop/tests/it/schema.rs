//! Our messages' field numbers and types against the descriptors inside Livepeer's Python
//! SDK. Each field's number and wire type are read from the bytes our struct encodes when
//! only that field is set, so the table below cannot drift from the structs unnoticed.

use std::collections::BTreeMap;

use livepeer_interop::messages::capabilities::{
    CapabilityConstraints, Constraints, ModelConstraint,
};
use livepeer_interop::messages::*;
use prost::Message;

/// One field: the SDK's message and field names, the type the SDK should declare, and the
/// (number, wire type) our struct encodes.
struct Field {
    message: &'static str,
    name: &'static str,
    ty: &'static str,
    tag: (u64, u64),
}

fn tag<M: Message + Default>(set: impl FnOnce(&mut M)) -> (u64, u64) {
    let mut m = M::default();
    set(&mut m);
    let bytes = m.encode_to_vec();
    let key = prost::encoding::decode_varint(&mut bytes.as_slice()).expect("a field key");
    (key >> 3, key & 7)
}

macro_rules! f {
    ($ty:ty, $msg:literal, $name:literal, $proto:literal, |$m:ident| $set:expr) => {
        Field {
            message: $msg,
            name: $name,
            ty: $proto,
            tag: tag::<$ty>(|$m| {
                $set;
            }),
        }
    };
}

fn fields() -> Vec<Field> {
    let bytes = || vec![1u8];
    let s = || "x".to_string();
    vec![
        f!(
            OrchestratorRequest,
            "net.OrchestratorRequest",
            "address",
            "bytes",
            |m| m.address = bytes()
        ),
        f!(
            OrchestratorRequest,
            "net.OrchestratorRequest",
            "sig",
            "bytes",
            |m| m.sig = bytes()
        ),
        f!(
            OrchestratorRequest,
            "net.OrchestratorRequest",
            "capabilities",
            "net.Capabilities",
            |m| m.capabilities = Some(Capabilities::default())
        ),
        f!(
            OrchestratorRequest,
            "net.OrchestratorRequest",
            "ignoreCapacityCheck",
            "bool",
            |m| m.ignore_capacity_check = true
        ),
        f!(
            EndTranscodingSessionRequest,
            "net.EndTranscodingSessionRequest",
            "auth_token",
            "net.AuthToken",
            |m| m.auth_token = Some(AuthToken::default())
        ),
        f!(PingPong, "net.PingPong", "value", "bytes", |m| m.value =
            bytes()),
        f!(
            OsInfo,
            "net.OSInfo",
            "storageType",
            "enum net.OSInfo.StorageType",
            |m| m.storage_type = 1
        ),
        f!(OsInfo, "net.OSInfo", "s3info", "net.S3OSInfo", |m| m
            .s3info =
            Some(S3OsInfo::default())),
        f!(S3OsInfo, "net.S3OSInfo", "host", "string", |m| m.host = s()),
        f!(S3OsInfo, "net.S3OSInfo", "key", "string", |m| m.key = s()),
        f!(S3OsInfo, "net.S3OSInfo", "policy", "string", |m| m.policy =
            s()),
        f!(S3OsInfo, "net.S3OSInfo", "signature", "string", |m| m
            .signature =
            s()),
        f!(S3OsInfo, "net.S3OSInfo", "credential", "string", |m| m
            .credential =
            s()),
        f!(S3OsInfo, "net.S3OSInfo", "xAmzDate", "string", |m| m
            .x_amz_date =
            s()),
        f!(PriceInfo, "net.PriceInfo", "pricePerUnit", "int64", |m| m
            .price_per_unit =
            1),
        f!(PriceInfo, "net.PriceInfo", "pixelsPerUnit", "int64", |m| {
            m.pixels_per_unit = 1
        }),
        f!(PriceInfo, "net.PriceInfo", "capability", "uint32", |m| m
            .capability =
            1),
        f!(PriceInfo, "net.PriceInfo", "constraint", "string", |m| m
            .constraint =
            s()),
        f!(
            Capabilities,
            "net.Capabilities",
            "bitstring",
            "repeated uint64",
            |m| m.bitstring = vec![1]
        ),
        f!(
            Capabilities,
            "net.Capabilities",
            "mandatories",
            "repeated uint64",
            |m| m.mandatories = vec![1]
        ),
        f!(
            Capabilities,
            "net.Capabilities",
            "capacities",
            "map<uint32,uint32>",
            |m| m.capacities = BTreeMap::from([(1, 1)])
        ),
        f!(Capabilities, "net.Capabilities", "version", "string", |m| {
            m.version = s()
        }),
        f!(
            Capabilities,
            "net.Capabilities",
            "constraints",
            "net.Capabilities.Constraints",
            |m| m.constraints = Some(Constraints::default())
        ),
        f!(
            Constraints,
            "net.Capabilities.Constraints",
            "minVersion",
            "string",
            |m| m.min_version = s()
        ),
        f!(
            Constraints,
            "net.Capabilities.Constraints",
            "PerCapability",
            "map<uint32,net.Capabilities.CapabilityConstraints>",
            |m| m.per_capability = BTreeMap::from([(1, CapabilityConstraints::default())])
        ),
        f!(
            CapabilityConstraints,
            "net.Capabilities.CapabilityConstraints",
            "models",
            "map<string,net.Capabilities.CapabilityConstraints.ModelConstraint>",
            |m| m.models = BTreeMap::from([(s(), ModelConstraint::default())])
        ),
        f!(
            ModelConstraint,
            "net.Capabilities.CapabilityConstraints.ModelConstraint",
            "warm",
            "bool",
            |m| m.warm = true
        ),
        f!(
            ModelConstraint,
            "net.Capabilities.CapabilityConstraints.ModelConstraint",
            "capacity",
            "uint32",
            |m| m.capacity = 1
        ),
        f!(
            ModelConstraint,
            "net.Capabilities.CapabilityConstraints.ModelConstraint",
            "runnerVersion",
            "string",
            |m| m.runner_version = s()
        ),
        f!(
            ModelConstraint,
            "net.Capabilities.CapabilityConstraints.ModelConstraint",
            "capacityInUse",
            "uint32",
            |m| m.capacity_in_use = 1
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "transcoder",
            "string",
            |m| m.transcoder = s()
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "ticket_params",
            "net.TicketParams",
            |m| m.ticket_params = Some(TicketParams::default())
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "price_info",
            "net.PriceInfo",
            |m| m.price_info = Some(PriceInfo::default())
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "address",
            "bytes",
            |m| m.address = bytes()
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "capabilities",
            "net.Capabilities",
            |m| m.capabilities = Some(Capabilities::default())
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "auth_token",
            "net.AuthToken",
            |m| m.auth_token = Some(AuthToken::default())
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "storage",
            "repeated net.OSInfo",
            |m| m.storage = vec![OsInfo::default()]
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "capabilities_prices",
            "repeated net.PriceInfo",
            |m| m.capabilities_prices = vec![PriceInfo::default()]
        ),
        f!(
            OrchestratorInfo,
            "net.OrchestratorInfo",
            "nodes",
            "repeated string",
            |m| m.nodes = vec![s()]
        ),
        f!(AuthToken, "net.AuthToken", "token", "bytes", |m| m.token =
            bytes()),
        f!(AuthToken, "net.AuthToken", "session_id", "string", |m| m
            .session_id =
            s()),
        f!(AuthToken, "net.AuthToken", "expiration", "int64", |m| m
            .expiration =
            1),
        f!(SegData, "net.SegData", "manifestId", "bytes", |m| m
            .manifest_id =
            bytes()),
        f!(SegData, "net.SegData", "seq", "int64", |m| m.seq = 1),
        f!(SegData, "net.SegData", "hash", "bytes", |m| m.hash =
            bytes()),
        f!(SegData, "net.SegData", "profiles", "bytes", |m| m
            .profiles =
            bytes()),
        f!(SegData, "net.SegData", "sig", "bytes", |m| m.sig = bytes()),
        f!(SegData, "net.SegData", "duration", "int32", |m| m
            .duration =
            1),
        f!(
            SegData,
            "net.SegData",
            "capabilities",
            "net.Capabilities",
            |m| m.capabilities = Some(Capabilities::default())
        ),
        f!(SegData, "net.SegData", "auth_token", "net.AuthToken", |m| {
            m.auth_token = Some(AuthToken::default())
        }),
        f!(
            SegData,
            "net.SegData",
            "calc_perceptual_hash",
            "bool",
            |m| m.calc_perceptual_hash = true
        ),
        f!(
            SegData,
            "net.SegData",
            "storage",
            "repeated net.OSInfo",
            |m| m.storage = vec![OsInfo::default()]
        ),
        f!(
            SegData,
            "net.SegData",
            "fullProfiles",
            "repeated net.VideoProfile",
            |m| m.full_profiles = vec![VideoProfile::default()]
        ),
        f!(
            SegData,
            "net.SegData",
            "fullProfiles2",
            "repeated net.VideoProfile",
            |m| m.full_profiles2 = vec![VideoProfile::default()]
        ),
        f!(
            SegData,
            "net.SegData",
            "fullProfiles3",
            "repeated net.VideoProfile",
            |m| m.full_profiles3 = vec![VideoProfile::default()]
        ),
        f!(
            SegData,
            "net.SegData",
            "segment_parameters",
            "net.SegParameters",
            |m| m.segment_parameters = Some(SegParameters::default())
        ),
        f!(SegData, "net.SegData", "ForceSessionReinit", "bool", |m| {
            m.force_session_reinit = true
        }),
        f!(SegParameters, "net.SegParameters", "from", "uint64", |m| {
            m.from = 1
        }),
        f!(SegParameters, "net.SegParameters", "to", "uint64", |m| m
            .to =
            1),
        f!(VideoProfile, "net.VideoProfile", "name", "string", |m| m
            .name =
            s()),
        f!(VideoProfile, "net.VideoProfile", "width", "int32", |m| m
            .width =
            1),
        f!(VideoProfile, "net.VideoProfile", "height", "int32", |m| m
            .height =
            1),
        f!(VideoProfile, "net.VideoProfile", "bitrate", "int32", |m| {
            m.bitrate = 1
        }),
        f!(VideoProfile, "net.VideoProfile", "fps", "uint32", |m| m
            .fps =
            1),
        f!(
            VideoProfile,
            "net.VideoProfile",
            "format",
            "enum net.VideoProfile.Format",
            |m| m.format = 1
        ),
        f!(VideoProfile, "net.VideoProfile", "fpsDen", "uint32", |m| {
            m.fps_den = 1
        }),
        f!(
            VideoProfile,
            "net.VideoProfile",
            "profile",
            "enum net.VideoProfile.Profile",
            |m| m.profile = 1
        ),
        f!(VideoProfile, "net.VideoProfile", "gop", "int32", |m| m
            .gop =
            1),
        f!(
            VideoProfile,
            "net.VideoProfile",
            "encoder",
            "enum net.VideoProfile.VideoCodec",
            |m| m.encoder = 1
        ),
        f!(
            VideoProfile,
            "net.VideoProfile",
            "colorDepth",
            "int32",
            |m| m.color_depth = 1
        ),
        f!(
            VideoProfile,
            "net.VideoProfile",
            "chromaFormat",
            "enum net.VideoProfile.ChromaSubsampling",
            |m| m.chroma_format = 1
        ),
        f!(VideoProfile, "net.VideoProfile", "quality", "uint32", |m| {
            m.quality = 1
        }),
        f!(
            TranscodedSegmentData,
            "net.TranscodedSegmentData",
            "url",
            "string",
            |m| m.url = s()
        ),
        f!(
            TranscodedSegmentData,
            "net.TranscodedSegmentData",
            "pixels",
            "int64",
            |m| m.pixels = 1
        ),
        f!(
            TranscodedSegmentData,
            "net.TranscodedSegmentData",
            "perceptual_hash_url",
            "string",
            |m| m.perceptual_hash_url = s()
        ),
        f!(
            TranscodeData,
            "net.TranscodeData",
            "segments",
            "repeated net.TranscodedSegmentData",
            |m| m.segments = vec![TranscodedSegmentData::default()]
        ),
        f!(TranscodeData, "net.TranscodeData", "sig", "bytes", |m| m
            .sig =
            bytes()),
        f!(
            TranscodeResult,
            "net.TranscodeResult",
            "seq",
            "int64",
            |m| m.seq = 1
        ),
        f!(
            TranscodeResult,
            "net.TranscodeResult",
            "error",
            "string",
            |m| m.result = Some(transcode_result::Result::Error(s()))
        ),
        f!(
            TranscodeResult,
            "net.TranscodeResult",
            "data",
            "net.TranscodeData",
            |m| m.result = Some(transcode_result::Result::Data(TranscodeData::default()))
        ),
        f!(
            TranscodeResult,
            "net.TranscodeResult",
            "info",
            "net.OrchestratorInfo",
            |m| m.info = Some(OrchestratorInfo::default())
        ),
        f!(
            PaymentResult,
            "net.PaymentResult",
            "info",
            "net.OrchestratorInfo",
            |m| m.info = Some(OrchestratorInfo::default())
        ),
        f!(
            TicketParams,
            "net.TicketParams",
            "recipient",
            "bytes",
            |m| m.recipient = bytes()
        ),
        f!(
            TicketParams,
            "net.TicketParams",
            "face_value",
            "bytes",
            |m| m.face_value = bytes()
        ),
        f!(TicketParams, "net.TicketParams", "win_prob", "bytes", |m| {
            m.win_prob = bytes()
        }),
        f!(
            TicketParams,
            "net.TicketParams",
            "recipient_rand_hash",
            "bytes",
            |m| m.recipient_rand_hash = bytes()
        ),
        f!(TicketParams, "net.TicketParams", "seed", "bytes", |m| m
            .seed =
            bytes()),
        f!(
            TicketParams,
            "net.TicketParams",
            "expiration_block",
            "bytes",
            |m| m.expiration_block = bytes()
        ),
        f!(
            TicketParams,
            "net.TicketParams",
            "expiration_params",
            "net.TicketExpirationParams",
            |m| m.expiration_params = Some(TicketExpirationParams::default())
        ),
        f!(
            TicketSenderParams,
            "net.TicketSenderParams",
            "sender_nonce",
            "uint32",
            |m| m.sender_nonce = 1
        ),
        f!(
            TicketSenderParams,
            "net.TicketSenderParams",
            "sig",
            "bytes",
            |m| m.sig = bytes()
        ),
        f!(
            TicketExpirationParams,
            "net.TicketExpirationParams",
            "creation_round",
            "int64",
            |m| m.creation_round = 1
        ),
        f!(
            TicketExpirationParams,
            "net.TicketExpirationParams",
            "creation_round_block_hash",
            "bytes",
            |m| m.creation_round_block_hash = bytes()
        ),
        f!(
            Payment,
            "net.Payment",
            "ticket_params",
            "net.TicketParams",
            |m| m.ticket_params = Some(TicketParams::default())
        ),
        f!(Payment, "net.Payment", "sender", "bytes", |m| m.sender =
            bytes()),
        f!(
            Payment,
            "net.Payment",
            "expiration_params",
            "net.TicketExpirationParams",
            |m| m.expiration_params = Some(TicketExpirationParams::default())
        ),
        f!(
            Payment,
            "net.Payment",
            "ticket_sender_params",
            "repeated net.TicketSenderParams",
            |m| m.ticket_sender_params = vec![TicketSenderParams::default()]
        ),
        f!(
            Payment,
            "net.Payment",
            "expected_price",
            "net.PriceInfo",
            |m| m.expected_price = Some(PriceInfo::default())
        ),
    ]
}

/// Fields of modelled messages we deliberately leave out (decoded as unknown and skipped).
const SKIPPED: &[(&str, &str)] = &[("net.OrchestratorInfo", "hardware")];

/// The wire type a field of proto type `ty` is encoded with (proto3 packs repeated scalars).
fn wire_type(ty: &str) -> u64 {
    let varint = [
        "int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool",
    ];
    if ty.starts_with("enum ") || varint.contains(&ty) {
        0
    } else {
        2
    }
}

#[test]
fn field_numbers_and_types_match_the_sdk_schema() {
    let Some(schema) = crate::sdk::run("schema", None) else {
        return;
    };
    assert_eq!(schema["file"], "lp_rpc.proto");
    let messages = schema["messages"].as_object().expect("messages");
    let ours = fields();
    let mut problems = Vec::new();
    for f in &ours {
        let Some(sdk) = messages.get(f.message).and_then(|m| m.get(f.name)) else {
            problems.push(format!("{}.{}: not in the SDK schema", f.message, f.name));
            continue;
        };
        let number = sdk["number"].as_u64().expect("number");
        let ty = sdk["type"].as_str().expect("type");
        if f.tag.0 != number {
            problems.push(format!(
                "{}.{}: we encode field {}, the SDK has {number}",
                f.message, f.name, f.tag.0
            ));
        }
        if f.ty != ty {
            problems.push(format!(
                "{}.{}: we declare {}, the SDK has {ty}",
                f.message, f.name, f.ty
            ));
        }
        if f.tag.1 != wire_type(ty) {
            problems.push(format!(
                "{}.{}: we encode wire type {}, {ty} needs {}",
                f.message,
                f.name,
                f.tag.1,
                wire_type(ty)
            ));
        }
    }
    // Every field of every message we model is either in the table or skipped on purpose.
    let modelled: std::collections::BTreeSet<&str> = ours.iter().map(|f| f.message).collect();
    for message in &modelled {
        let sdk_fields = messages[*message].as_object().expect("fields");
        for name in sdk_fields.keys() {
            let covered = ours
                .iter()
                .any(|f| f.message == *message && f.name == name.as_str())
                || SKIPPED.contains(&(message, name.as_str()));
            if !covered {
                problems.push(format!("{message}.{name}: in the SDK, not modelled"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "schema mismatches:\n{}",
        problems.join("\n")
    );
}

#[test]
fn enum_values_match_the_sdk_schema() {
    use livepeer_interop::messages::os_info::StorageType;
    use livepeer_interop::messages::video_profile::{
        ChromaSubsampling, Format, Profile, VideoCodec,
    };
    let Some(schema) = crate::sdk::run("schema", None) else {
        return;
    };
    let ours: Vec<(&str, Vec<(&str, i32)>)> = vec![
        (
            "net.OSInfo.StorageType",
            vec![
                ("DIRECT", StorageType::Direct as i32),
                ("S3", StorageType::S3 as i32),
                ("GOOGLE", StorageType::Google as i32),
            ],
        ),
        (
            "net.VideoProfile.Format",
            vec![
                ("MPEGTS", Format::Mpegts as i32),
                ("MP4", Format::Mp4 as i32),
            ],
        ),
        (
            "net.VideoProfile.Profile",
            vec![
                ("ENCODER_DEFAULT", Profile::EncoderDefault as i32),
                ("H264_BASELINE", Profile::H264Baseline as i32),
                ("H264_MAIN", Profile::H264Main as i32),
                ("H264_HIGH", Profile::H264High as i32),
                ("H264_CONSTRAINED_HIGH", Profile::H264ConstrainedHigh as i32),
            ],
        ),
        (
            "net.VideoProfile.VideoCodec",
            vec![
                ("H264", VideoCodec::H264 as i32),
                ("H265", VideoCodec::H265 as i32),
                ("VP8", VideoCodec::Vp8 as i32),
                ("VP9", VideoCodec::Vp9 as i32),
            ],
        ),
        (
            "net.VideoProfile.ChromaSubsampling",
            vec![
                ("CHROMA_420", ChromaSubsampling::Chroma420 as i32),
                ("CHROMA_422", ChromaSubsampling::Chroma422 as i32),
                ("CHROMA_444", ChromaSubsampling::Chroma444 as i32),
            ],
        ),
    ];
    for (name, values) in ours {
        let sdk = schema["enums"][name]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(sdk.len(), values.len(), "{name}: value count");
        for (v, n) in values {
            assert_eq!(sdk[v].as_i64(), Some(i64::from(n)), "{name}.{v}");
        }
    }
}
