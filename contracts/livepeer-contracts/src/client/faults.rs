//! Fault challenges: opening them (broadcasters) and deciding them (trusted verifiers).

use async_trait::async_trait;
use ethers::abi::AbiDecode;
use ethers::providers::Middleware;
use ethers::types::Bytes;
use livepeer_core::chain::{
    ChainError, ChallengeId, ChallengeState, FaultChallenger, FaultEvidence, TxOutcome,
    VerdictPoster,
};
use livepeer_core::receipt::{Receipt, SegmentClaim, SignedReceipt, SignedSegmentClaim};
use livepeer_core::{H256, ServiceId, Signature, StreamId, Wei};

use super::ChainClient;
use crate::bindings::fault_verifier::{self, ChallengeOpenedFilter, OpenChallengeCall};
use crate::error::{contract_error, middleware_error};

fn receipt(r: &Receipt) -> fault_verifier::Receipt {
    fault_verifier::Receipt {
        orchestrator: r.orchestrator,
        broadcaster: r.broadcaster,
        stream_id: r.stream_id.0.0,
        seq: r.seq,
        input_hash: r.input_hash.0,
        profile_ids: r.profile_ids.iter().map(|h| h.0).collect(),
        output_hashes: r.output_hashes.iter().map(|h| h.0).collect(),
        pixels: r.pixels.clone(),
    }
}

fn claim(c: &SegmentClaim) -> fault_verifier::SegmentClaim {
    fault_verifier::SegmentClaim {
        broadcaster: c.broadcaster,
        orchestrator: c.orchestrator,
        stream_id: c.stream_id.0.0,
        seq: c.seq,
        input_hash: c.input_hash.0,
        profile_ids: c.profile_ids.iter().map(|h| h.0).collect(),
        duration_ms: c.duration_ms,
    }
}

fn decode_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Decode(e.to_string())
}

#[async_trait]
impl<M: Middleware + 'static> FaultChallenger for ChainClient<M> {
    async fn open_challenge(
        &self,
        ev: &FaultEvidence,
        bond: Wei,
    ) -> Result<ChallengeId, ChainError> {
        let expected = self.signing_domain();
        if ev.domain != expected {
            return Err(ChainError::WrongDomain {
                expected,
                evidence: ev.domain,
            });
        }
        let call = self
            .fault
            .open_challenge(
                receipt(&ev.receipt.receipt),
                Bytes::from(ev.receipt.signature.as_bytes().to_vec()),
                claim(&ev.claim.claim),
                Bytes::from(ev.claim.signature.as_bytes().to_vec()),
                ev.service.to_bytes32().0,
            )
            .value(bond.0);
        self.send(call).await?;
        Ok(ChallengeId(ev.receipt.receipt.hash()))
    }

    async fn challenge_state(&self, id: ChallengeId) -> Result<ChallengeState, ChainError> {
        let (status, _, deadline) = self
            .fault
            .challenge_state(id.0.0)
            .call()
            .await
            .map_err(contract_error)?;
        Ok(match status {
            1 => ChallengeState::Open {
                deadline_block: deadline.low_u64(),
            },
            2 => ChallengeState::Guilty,
            3 => ChallengeState::Innocent,
            4 => ChallengeState::Expired,
            _ => return Err(ChainError::NotFound(format!("challenge {:?}", id.0))),
        })
    }

    async fn close_expired(&self, id: ChallengeId) -> Result<TxOutcome, ChainError> {
        self.send(self.fault.close_expired_challenge(id.0.0)).await
    }

    async fn challenge_bond(&self) -> Result<Wei, ChainError> {
        self.fault
            .challenge_bond()
            .call()
            .await
            .map(Wei)
            .map_err(contract_error)
    }
}

#[async_trait]
impl<M: Middleware + 'static> VerdictPoster for ChainClient<M> {
    /// Reads the evidence back from the transaction that opened the challenge: the chain keeps
    /// it in that transaction's calldata, so nobody else needs to be trusted for it.
    async fn challenge_evidence(&self, id: ChallengeId) -> Result<FaultEvidence, ChainError> {
        let events = self
            .fault
            .event::<ChallengeOpenedFilter>()
            .topic1(ethers::types::H256(id.0.0))
            .from_block(0u64)
            .query_with_meta()
            .await
            .map_err(contract_error)?;
        let (_, meta) = events
            .into_iter()
            .next()
            .ok_or_else(|| ChainError::NotFound(format!("challenge {:?}", id.0)))?;
        let tx = self
            .client
            .get_transaction(meta.transaction_hash)
            .await
            .map_err(middleware_error)?
            .ok_or_else(|| ChainError::NotFound("challenge transaction".into()))?;
        let call = OpenChallengeCall::decode(&tx.input).map_err(decode_err)?;
        let r = call.receipt;
        let c = call.claim;
        Ok(FaultEvidence {
            service: ServiceId::from_bytes32(&H256::from(call.service_id)).map_err(decode_err)?,
            receipt: SignedReceipt {
                receipt: Receipt {
                    orchestrator: r.orchestrator,
                    broadcaster: r.broadcaster,
                    stream_id: StreamId(H256::from(r.stream_id)),
                    seq: r.seq,
                    input_hash: H256::from(r.input_hash),
                    profile_ids: r.profile_ids.into_iter().map(H256::from).collect(),
                    output_hashes: r.output_hashes.into_iter().map(H256::from).collect(),
                    pixels: r.pixels,
                },
                signature: Signature::from_slice(&call.receipt_sig).map_err(decode_err)?,
            },
            claim: SignedSegmentClaim {
                claim: SegmentClaim {
                    broadcaster: c.broadcaster,
                    orchestrator: c.orchestrator,
                    stream_id: StreamId(H256::from(c.stream_id)),
                    seq: c.seq,
                    input_hash: H256::from(c.input_hash),
                    profile_ids: c.profile_ids.into_iter().map(H256::from).collect(),
                    duration_ms: c.duration_ms,
                },
                signature: Signature::from_slice(&call.claim_sig).map_err(decode_err)?,
            },
            domain: self.signing_domain(),
        })
    }

    async fn vote(&self, id: ChallengeId, guilty: bool) -> Result<TxOutcome, ChainError> {
        self.send(self.trusted.vote(id.0.0, guilty)).await
    }
}

/// A challenge as its `ChallengeOpened` event announced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenedChallenge {
    /// Its id.
    pub id: ChallengeId,
    /// The orchestrator challenged.
    pub orchestrator: livepeer_core::Address,
    /// Who opened it (the broadcaster serving the evidence).
    pub challenger: livepeer_core::Address,
    /// The verifier contract that decides it.
    pub verifier: livepeer_core::Address,
    /// The last block a verdict counts in.
    pub deadline_block: u64,
    /// The block it was opened in.
    pub block: u64,
}

impl<M: Middleware + 'static> ChainClient<M> {
    /// Challenges opened from block `from` up to the chain's head, in chain order, and the
    /// head block they were read up to: a watcher asks again from that block plus one.
    pub async fn challenges_opened(
        &self,
        from: u64,
    ) -> Result<(Vec<OpenedChallenge>, u64), ChainError> {
        let head = self
            .client
            .get_block_number()
            .await
            .map_err(middleware_error)?
            .as_u64();
        if from > head {
            return Ok((Vec::new(), head));
        }
        let events = self
            .fault
            .event::<ChallengeOpenedFilter>()
            .from_block(from)
            .to_block(head)
            .query_with_meta()
            .await
            .map_err(contract_error)?;
        let opened = events
            .into_iter()
            .map(|(e, meta)| OpenedChallenge {
                id: ChallengeId(H256::from(e.challenge_id)),
                orchestrator: e.orchestrator,
                challenger: e.challenger,
                verifier: e.verifier,
                deadline_block: e.deadline.low_u64(),
                block: meta.block_number.as_u64(),
            })
            .collect();
        Ok((opened, head))
    }
}
