//! Entry points shared by the fuzz targets and the corpus-replay test. Not a stable API.
//!
//! Each decodes outside bytes with the crate's decoders, then checks what decoded: it
//! re-encodes to the same value, and every mapping, signature check and digest on it
//! returns (a typed error or a value), never panics.

use prost::Message;

use crate::messages::{OrchestratorRequest, transcode_result};
use crate::payment::{payment_from_batch, payment_to_batch, ticket_params_to_wire};
use crate::{
    RemoteError, decode_orchestrator_info, decode_payment_header, decode_payment_result,
    decode_segment_header, decode_transcode_result, encode_payment_header, encode_segment_header,
    seg_data_flatten, ticket_params_from_info, verify_orchestrator_request, verify_seg_data,
    verify_transcode_result,
};
use livepeer_core::Address;

/// The headers. The first byte picks: even, the rest is a `Livepeer-Segment` value; odd, a
/// `Livepeer-Payment` value. A payment that maps to a ticket batch must map back to the
/// same batch.
pub fn headers(data: &[u8]) {
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    if mode % 2 == 0 {
        let Ok(seg) = decode_segment_header(rest) else {
            return;
        };
        let again = decode_segment_header(encode_segment_header(&seg).as_bytes());
        assert_eq!(again.as_ref(), Ok(&seg), "segment header round trip");
        if let Ok(flat) = seg_data_flatten(&seg) {
            assert!(flat.len() >= seg.manifest_id.len() + 64);
        }
        assert!(verify_seg_data(&seg, &Address::zero()).is_err());
    } else {
        let Ok(payment) = decode_payment_header(rest) else {
            return;
        };
        let again = decode_payment_header(encode_payment_header(&payment).as_bytes());
        assert_eq!(again.as_ref(), Ok(&payment), "payment header round trip");
        if let Ok(received) = payment_to_batch(&payment)
            && let (Some(batch), Some(price)) = (received.batch, payment.expected_price.as_ref())
        {
            assert!(batch.tickets.len() <= livepeer_pm::MAX_TICKETS_PER_BATCH);
            let wire = payment_from_batch(&batch, price);
            let back = wire.as_ref().map(payment_to_batch);
            assert!(
                matches!(back, Ok(Ok(ref r)) if r.batch.as_ref() == Some(&batch)),
                "payment mapping round trip"
            );
        }
    }
}

/// A `/segment` response body: the error is named, the signature checked against the
/// orchestrator's own address with empty renditions, the refreshed info mapped.
pub fn transcode_result(data: &[u8]) {
    let Ok(result) = decode_transcode_result(data) else {
        return;
    };
    let again = decode_transcode_result(&result.encode_to_vec());
    assert_eq!(again.as_ref(), Ok(&result), "transcode result round trip");
    let address = result
        .info
        .as_ref()
        .filter(|i| i.address.len() == 20)
        .map_or(Address::zero(), |i| Address::from_slice(&i.address));
    match &result.result {
        Some(transcode_result::Result::Error(e)) => {
            let _ = RemoteError::parse(e).as_str().len();
        }
        Some(transcode_result::Result::Data(d)) => {
            let renditions = vec![Vec::<u8>::new(); d.segments.len()];
            let _ = verify_transcode_result(d, &renditions, &address);
            let read = crate::result::read_transcode_result(data, d.segments.len());
            assert!(read.is_ok(), "a decoded result with renditions reads");
            let _ = crate::result::debit(d, &livepeer_core::PixelPrice::per_pixel(u64::MAX));
        }
        None => {}
    }
    if let Some(info) = &result.info {
        check_info(info);
    }
}

/// An `OrchestratorInfo` (and, from the same bytes, a `PaymentResult` and an
/// `OrchestratorRequest`): ticket params that map must map back to the same wire values.
pub fn orchestrator_info(data: &[u8]) {
    if let Ok(info) = decode_orchestrator_info(data) {
        let again = decode_orchestrator_info(&info.encode_to_vec());
        assert_eq!(again.as_ref(), Ok(&info), "orchestrator info round trip");
        check_info(&info);
    }
    if let Ok(r) = decode_payment_result(data)
        && let Some(info) = &r.info
    {
        check_info(info);
    }
    if let Ok(req) = OrchestratorRequest::decode(data) {
        let _ = verify_orchestrator_request(&req);
    }
}

fn check_info(info: &crate::messages::OrchestratorInfo) {
    let Ok(params) = ticket_params_from_info(info) else {
        return;
    };
    let Ok(wire) = ticket_params_to_wire(&params, true) else {
        return;
    };
    let mapped = crate::messages::OrchestratorInfo {
        ticket_params: Some(wire),
        price_info: info.price_info.clone(),
        ..Default::default()
    };
    assert_eq!(
        ticket_params_from_info(&mapped).as_ref(),
        Ok(&params),
        "ticket params mapping round trip"
    );
}
