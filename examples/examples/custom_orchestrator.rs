//! An orchestrator with a transcoder of its own (the software one, logging each segment).
//! With anvil running and `devnet deploy --write contracts.json` done:
//! `LIVEPEER_KEY=0x… cargo run -p livepeer-examples --example custom_orchestrator`.
use livepeer_core::transcode::{Capabilities, TranscodeError, TranscodeJob, TranscodeOutput};
use livepeer_node::{LocalSigner, OrchestratorNode, rpc};
use livepeer_transcode::{SoftwareTranscoder, Transcoder};

struct Logged(SoftwareTranscoder);

#[async_trait::async_trait]
impl Transcoder for Logged {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn transcode(&self, job: TranscodeJob) -> Result<TranscodeOutput, TranscodeError> {
        tracing::info!("segment {} of {:?}", job.segment.seq, job.stream_id);
        self.0.transcode(job).await
    }
}

#[tokio::main]
async fn main() -> livepeer_node::Result<()> {
    let key = LocalSigner::from_hex(&std::env::var("LIVEPEER_KEY").unwrap_or_default())?;
    let addresses = rpc::read_addresses("contracts.json".as_ref())?;
    let chain = rpc::connect("http://127.0.0.1:8545", 31337, addresses, &key).await?;
    let mine = std::sync::Arc::new(Logged(SoftwareTranscoder::new(Default::default())?));
    let node = OrchestratorNode::builder(chain).key(key).transcoder(mine);
    node.build().await?.run_until_signal().await
}
