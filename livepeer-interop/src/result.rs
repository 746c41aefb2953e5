//! Reading a `/segment` response as a gateway: the renditions or the orchestrator's named
//! error, the refreshed info, and what the renditions cost.

use livepeer_core::{PixelPrice, Pixels, Wei};

use crate::codec::decode_transcode_result;
use crate::error::InteropError;
use crate::messages::{OrchestratorInfo, TranscodeData, transcode_result};
use crate::remote_error::RemoteError;

/// What the orchestrator did with a segment.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TranscodeOutcome {
    /// The renditions: where to fetch them and the signature over them.
    Transcoded(TranscodeData),
    /// The orchestrator refused or failed, with go-livepeer's error named.
    Refused(RemoteError),
}

/// A decoded `/segment` response.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SegmentResponse {
    /// The sequence number the orchestrator answered for.
    pub seq: i64,
    /// The renditions or the error.
    pub outcome: TranscodeOutcome,
    /// Refreshed orchestrator info (new ticket params), if sent.
    pub info: Option<OrchestratorInfo>,
}

/// Decodes a `/segment` response body for a segment with `renditions` requested
/// renditions. A response with neither renditions nor an error, or with a different number
/// of renditions than requested, is the orchestrator's fault.
pub fn read_transcode_result(
    body: &[u8],
    renditions: usize,
) -> Result<SegmentResponse, InteropError> {
    let r = decode_transcode_result(body)?;
    let outcome = match r.result {
        Some(transcode_result::Result::Error(e)) => {
            TranscodeOutcome::Refused(RemoteError::parse(&e))
        }
        Some(transcode_result::Result::Data(d)) => {
            if d.segments.len() != renditions {
                return Err(InteropError::RenditionCount {
                    listed: d.segments.len(),
                    received: renditions,
                });
            }
            TranscodeOutcome::Transcoded(d)
        }
        None => {
            return Err(InteropError::Missing {
                field: "TranscodeResult.result",
            });
        }
    };
    Ok(SegmentResponse {
        seq: r.seq,
        outcome,
        info: r.info,
    })
}

/// The pixels the orchestrator reports encoding, summed over the renditions.
pub fn output_pixels(data: &TranscodeData) -> Result<Pixels, InteropError> {
    let mut total: u64 = 0;
    for s in &data.segments {
        let px = u64::try_from(s.pixels).map_err(|_| InteropError::OutOfRange {
            field: "TranscodedSegmentData.pixels",
        })?;
        total = total.checked_add(px).ok_or(InteropError::OutOfRange {
            field: "TranscodedSegmentData.pixels",
        })?;
    }
    Ok(Pixels(total))
}

/// What the orchestrator debits for the renditions: their pixels at `price`, rounded up to
/// a whole wei (go-livepeer keeps the exact fraction).
pub fn debit(data: &TranscodeData, price: &PixelPrice) -> Result<Wei, InteropError> {
    Ok(price.fee(output_pixels(data)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{TranscodeResult, TranscodedSegmentData};
    use livepeer_core::U256;
    use prost::Message;

    fn body(result: Option<transcode_result::Result>) -> Vec<u8> {
        TranscodeResult {
            seq: 5,
            result,
            info: Some(OrchestratorInfo {
                transcoder: "https://o".into(),
                ..OrchestratorInfo::default()
            }),
        }
        .encode_to_vec()
    }

    fn data(pixels: &[i64]) -> TranscodeData {
        TranscodeData {
            segments: pixels
                .iter()
                .map(|&p| TranscodedSegmentData {
                    pixels: p,
                    ..TranscodedSegmentData::default()
                })
                .collect(),
            sig: vec![],
        }
    }

    #[test]
    fn renditions_errors_and_malformed_answers() {
        let ok = body(Some(transcode_result::Result::Data(data(&[10, 20]))));
        let r = read_transcode_result(&ok, 2).unwrap();
        assert_eq!(r.seq, 5);
        assert_eq!(r.info.unwrap().transcoder, "https://o");
        assert!(matches!(r.outcome, TranscodeOutcome::Transcoded(ref d) if d.segments.len() == 2));
        assert!(matches!(
            read_transcode_result(&ok, 3),
            Err(InteropError::RenditionCount { .. })
        ));
        let busy = body(Some(transcode_result::Result::Error(
            "OrchestratorBusy".into(),
        )));
        assert_eq!(
            read_transcode_result(&busy, 2).unwrap().outcome,
            TranscodeOutcome::Refused(RemoteError::OrchestratorBusy)
        );
        assert!(matches!(
            read_transcode_result(&body(None), 2),
            Err(InteropError::Missing { .. })
        ));
    }

    #[test]
    fn debit_is_pixels_at_the_price() {
        let price = PixelPrice::new(U256::from(3), U256::from(2)).unwrap();
        assert_eq!(output_pixels(&data(&[10, 21])).unwrap(), Pixels(31));
        // 31 × 3/2 = 46.5, rounded up.
        assert_eq!(
            debit(&data(&[10, 21]), &price).unwrap(),
            Wei(U256::from(47))
        );
        assert!(output_pixels(&data(&[-1])).is_err());
        assert!(output_pixels(&data(&[i64::MAX, i64::MAX, i64::MAX])).is_err());
    }
}
