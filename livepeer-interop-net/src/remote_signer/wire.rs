//! The remote signer's JSON, as go-livepeer (`server/remote_signer.go`) and Livepeer's
//! Python SDK (`livepeer_gateway/remote_signer.py`) exchange it. Go's `[]byte` fields travel
//! as standard base64, and Go matches keys case-insensitively; the spellings here are those
//! the SDK sends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `POST /sign-orchestrator-info`'s answer: the gateway's address (EIP-55, `0x`-prefixed)
/// and its personal signature over that string's keccak256 (`0x`-prefixed hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrchInfoSigResponse {
    /// The gateway's address.
    pub address: String,
    /// The signature, 65 bytes in hex.
    pub signature: String,
}

/// The opaque state blob a remote signer hands back with every payment and takes again
/// with the next: the state's bytes and the signer's signature over them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedState {
    /// The state (JSON) bytes.
    #[serde(rename = "State", with = "b64", default)]
    pub state: Vec<u8>,
    /// The signer's personal signature over keccak256 of the state bytes.
    #[serde(rename = "Sig", with = "b64", default)]
    pub sig: Vec<u8>,
}

impl SignedState {
    /// Whether neither part is set (a first request).
    pub fn is_empty(&self) -> bool {
        self.state.is_empty() && self.sig.is_empty()
    }
}

/// A price ceiling for a live payment (go-livepeer's `LiveRunnerPriceInfo`): `price` wei
/// per `unit` (`seconds` for `live`, `720p-pixel-seconds` for `lv2v`, `fixed` for `fixed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPrice {
    /// A positive decimal, as a JSON string or number.
    #[serde(deserialize_with = "decimal")]
    pub price: String,
    /// Must be `wei`.
    #[serde(default)]
    pub currency: String,
    /// The unit the price is per.
    #[serde(default)]
    pub unit: String,
}

/// `POST /generate-live-payment`'s request (go-livepeer's `RemotePaymentRequest`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePaymentRequest {
    /// The state from the previous answer; empty on the first request.
    #[serde(default, skip_serializing_if = "SignedState::is_empty")]
    pub state: SignedState,
    /// The orchestrator's `OrchestratorInfo`, protobuf bytes. Required.
    #[serde(with = "b64", default)]
    pub orchestrator: Vec<u8>,
    /// Ties the payment to the orchestrator's accounting for a session; required once a
    /// state is given.
    #[serde(
        rename = "ManifestID",
        alias = "manifestID",
        alias = "manifestId",
        alias = "manifest_id",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub manifest_id: String,
    /// The application the payment is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app: String,
    /// Pixels to pay for when no `type` is given.
    #[serde(rename = "inPixels", default, skip_serializing_if = "is_zero")]
    pub in_pixels: i64,
    /// `live` (per second), `lv2v` (per 720p30 pixel), `fixed`, or empty.
    #[serde(rename = "type", default)]
    pub job_type: String,
    /// The highest price the caller accepts.
    #[serde(rename = "maxPrice", default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<MaxPrice>,
    /// The job's `Capabilities`, protobuf bytes.
    #[serde(with = "b64", default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<u8>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `POST /generate-live-payment`'s answer (go-livepeer's `RemotePaymentResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePaymentResponse {
    /// The `Livepeer-Payment` header's value: base64 of a protobuf `Payment`.
    pub payment: String,
    /// The `Livepeer-Segment` header's value: base64 of a signed, empty `SegData`.
    #[serde(rename = "segCreds", default, skip_serializing_if = "String::is_empty")]
    pub seg_creds: String,
    /// The state to send with the next request.
    #[serde(default)]
    pub state: SignedState,
}

/// go-livepeer's JSON error body: `{"error": {"message": "…"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorMessage,
}

/// The inside of an [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// The message.
    pub message: String,
}

fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("maxPrice.price must be a decimal")),
    }
}

/// Go's `[]byte` in JSON: standard base64, `null` for none.
mod b64 {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Vec::new()),
            Some(s) => STANDARD
                .decode(s.as_bytes())
                .map_err(|_| serde::de::Error::custom("not standard base64")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_reads_the_sdks_spelling() {
        let json = r#"{"orchestrator":"AQI=","type":"live","ManifestID":"m","app":"a",
            "state":{"State":"e30=","Sig":"AA=="},"maxPrice":{"price":12.5,"currency":"wei","unit":"seconds"},
            "unknown":1}"#;
        let r: LivePaymentRequest = serde_json::from_str(json).unwrap();
        assert_eq!(r.orchestrator, vec![1, 2]);
        assert_eq!(r.manifest_id, "m");
        assert_eq!(r.state.state, b"{}");
        assert_eq!(r.max_price.unwrap().price, "12.5");
        let null: LivePaymentRequest =
            serde_json::from_str(r#"{"orchestrator":null,"state":{"State":null,"Sig":null}}"#)
                .unwrap();
        assert!(null.orchestrator.is_empty() && null.state.is_empty());
        assert!(serde_json::from_str::<LivePaymentRequest>(r#"{"orchestrator":5}"#).is_err());
        assert!(serde_json::from_str::<LivePaymentRequest>(r#"{"orchestrator":"%%"}"#).is_err());
        assert!(serde_json::from_str::<LivePaymentRequest>(r#"{"inPixels":"x"}"#).is_err());
    }

    #[test]
    fn response_round_trips() {
        let r = LivePaymentResponse {
            payment: "p".into(),
            seg_creds: "s".into(),
            state: SignedState {
                state: b"{}".to_vec(),
                sig: vec![1],
            },
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""segCreds":"s""#) && json.contains(r#""State":"e30=""#));
        assert_eq!(
            serde_json::from_str::<LivePaymentResponse>(&json).unwrap(),
            r
        );
    }
}
