//! go-livepeer's gRPC service paths (`net/lp_rpc.proto`, package `net`), declared by hand:
//! the messages are prost-derived in [`livepeer_interop::messages`], so there is no protoc
//! step.

use http::HeaderMap;

/// The `net.Orchestrator` service.
pub const ORCHESTRATOR_SERVICE: &str = "net.Orchestrator";
/// `rpc GetOrchestrator(OrchestratorRequest) returns (OrchestratorInfo)`.
pub const GET_ORCHESTRATOR: &str = "/net.Orchestrator/GetOrchestrator";
/// `rpc EndTranscodingSession(EndTranscodingSessionRequest) returns (EndTranscodingSessionResponse)`.
pub const END_TRANSCODING_SESSION: &str = "/net.Orchestrator/EndTranscodingSession";
/// `rpc Ping(PingPong) returns (PingPong)`.
pub const PING: &str = "/net.Orchestrator/Ping";

/// Longest `OrchestratorRequest` a server decodes: an address, a signature and
/// capabilities are a few KiB.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// Whether a request is gRPC: its content type is `application/grpc` or
/// `application/grpc+…`, the test go-livepeer's `lphttp.ServeHTTP` makes.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert(
            http::header::CONTENT_TYPE,
            "application/grpc".parse().unwrap(),
        );
        assert!(is_grpc(&h));
        h.insert(
            http::header::CONTENT_TYPE,
            "application/grpc+proto".parse().unwrap(),
        );
        assert!(is_grpc(&h));
        h.insert(http::header::CONTENT_TYPE, "video/MP2T".parse().unwrap());
        assert!(!is_grpc(&h));
    }
}
