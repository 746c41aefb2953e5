//! Reading and writing framed messages on quinn streams, and the binding handshake.

use std::time::{Duration, Instant};

use bytes::Bytes;
use livepeer_core::{Address, Signer};
use tokio::time::sleep_until;

use super::NegotiateError;
use super::error::Limit;
use crate::proto::identity::EXPORTER_LEN;
use crate::proto::{
    Assembled, Message, MessageType, ReadEvent, ReadLimits, Role, StreamReader, WireError,
    chunk_frames, sign_binding, verify_binding,
};

/// Opens a stream on `conn`, waiting at most `wait` for the peer's stream credit: a peer
/// whose concurrent-stream limit stays full gives [`Limit::Streams`].
pub(crate) async fn open_stream(
    conn: &quinn::Connection,
    wait: Duration,
) -> Result<(quinn::SendStream, quinn::RecvStream), NegotiateError> {
    match tokio::time::timeout(wait, conn.open_bi()).await {
        Ok(r) => r.map_err(NegotiateError::transport),
        Err(_) => Err(NegotiateError::AtCapacity(Limit::Streams)),
    }
}

/// Finishes `send` and waits until the peer holds all of it.
///
/// The last write returns once the data fits the flow-control window, so on a slow or lossy
/// uplink much of a body may still be on its way: a reply's idle deadline must start only
/// after this. The wait keeps the same deadlines as a read: it fails once the peer has sent
/// nothing at all (not even an acknowledgement) for `limits.idle`, or after `limits.total`.
/// A peer that stops the stream early (an error answer) or a closed connection ends the
/// wait at once (the reply, if any, is then read as usual).
pub(crate) async fn finish_delivered(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    limits: &ReadLimits,
) -> Result<(), NegotiateError> {
    let _ = send.finish();
    let timeout = |what| NegotiateError::Proto(crate::proto::ProtoError::Timeout(what));
    let end = Instant::now() + limits.total;
    let heard = || conn.stats().udp_rx.datagrams;
    let (mut last, mut since) = (heard(), Instant::now());
    let tick = (limits.idle / 4).max(Duration::from_millis(10));
    let stopped = send.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return Ok(()),
            e = conn.closed() => return Err(NegotiateError::transport(e)),
            () = tokio::time::sleep(tick) => {}
        }
        let now = Instant::now();
        if now >= end {
            return Err(timeout("upload deadline"));
        }
        let rx = heard();
        if rx != last {
            (last, since) = (rx, now);
        } else if now - since >= limits.idle {
            return Err(timeout("idle deadline"));
        }
    }
}

/// Writes one message.
pub(crate) async fn write_msg(
    send: &mut quinn::SendStream,
    m: &Message,
) -> Result<(), NegotiateError> {
    let frame = m.encode()?;
    send.write_all(&frame)
        .await
        .map_err(NegotiateError::transport)
}

/// Writes a body as chunk frames.
pub(crate) async fn write_body(
    send: &mut quinn::SendStream,
    body: &Bytes,
) -> Result<(), NegotiateError> {
    for frame in chunk_frames(body) {
        send.write_all(&frame)
            .await
            .map_err(NegotiateError::transport)?;
    }
    Ok(())
}

/// Sends a named error and closes our side of the stream. Errors while doing so are
/// ignored: the peer may already be gone.
pub(crate) async fn send_error(send: &mut quinn::SendStream, e: WireError) {
    let _ = write_msg(send, &Message::Error(e)).await;
    let _ = send.finish();
}

/// Reads one head message of an `allowed` type and its bodies. A peer [`Message::Error`]
/// head becomes [`NegotiateError::Remote`].
pub(crate) async fn read_assembled(
    recv: &mut quinn::RecvStream,
    allowed: &'static [MessageType],
    limits: ReadLimits,
) -> Result<Assembled, NegotiateError> {
    read_vetted(recv, allowed, limits, |_| async { Ok(()) }).await
}

/// Like [`read_assembled`], but `vet` sees the head as soon as it arrives, before any body
/// is accepted; an error from it ends the read with [`NegotiateError::Remote`].
pub(crate) async fn read_vetted<F, Fut>(
    recv: &mut quinn::RecvStream,
    allowed: &'static [MessageType],
    limits: ReadLimits,
    vet: F,
) -> Result<Assembled, NegotiateError>
where
    F: FnOnce(Message) -> Fut,
    Fut: std::future::Future<Output = Result<(), WireError>>,
{
    let mut reader = StreamReader::new(Instant::now(), allowed, limits);
    let mut vet = Some(vet);
    loop {
        let head = reader.head().cloned();
        if let Some(h) = head
            && let Some(v) = vet.take()
        {
            v(h).await.map_err(NegotiateError::Remote)?;
        }
        if let Some(ev) = reader.poll_event() {
            if let (ReadEvent::Done(a), Some(v)) = (&ev, vet.take()) {
                v(a.head.clone()).await.map_err(NegotiateError::Remote)?;
            }
            return match ev {
                ReadEvent::Done(a) => match a.head {
                    Message::Error(w) => Err(NegotiateError::Remote(w)),
                    _ => Ok(*a),
                },
                ReadEvent::Failed(e) => Err(e.into()),
            };
        }
        let deadline = reader
            .poll_timeout()
            .map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std);
        tokio::select! {
            r = recv.read_chunk(crate::proto::MAX_CHUNK, true) => match r {
                Ok(Some(c)) => reader.handle_data(Instant::now(), &c.bytes),
                Ok(None) => reader.handle_end(Instant::now()),
                Err(e) => return Err(NegotiateError::transport(e)),
            },
            _ = sleep_until(deadline) => reader.handle_timeout(Instant::now()),
        }
    }
}

fn exporter(conn: &quinn::Connection) -> Result<[u8; EXPORTER_LEN], NegotiateError> {
    super::tls::exporter(conn, b"")
}

/// The client side of the binding: proves our address as `role`, then checks the server
/// proves `expected` as an orchestrator. Refuses (closes) the connection if not.
pub(crate) async fn bind_client(
    conn: &quinn::Connection,
    signer: &dyn Signer,
    role: Role,
    expected: Address,
    limits: ReadLimits,
) -> Result<(), NegotiateError> {
    bind_client_then(conn, signer, role, expected, limits, async {}).await
}

/// [`bind_client`] with a first request pipelined behind our proof: `first` (which opens
/// its own stream) runs while the server's proof is on its way, so a fresh connection
/// costs one round trip less. The server reads our proof before it accepts any other
/// stream, so nothing is served to an unproven client; `first`'s output is returned only
/// once the server has proven `expected` (a binding failure discards it and closes the
/// connection; `first`'s own failures leave the connection open).
pub(crate) async fn bind_client_then<T>(
    conn: &quinn::Connection,
    signer: &dyn Signer,
    role: Role,
    expected: Address,
    limits: ReadLimits,
    first: impl std::future::Future<Output = T>,
) -> Result<T, NegotiateError> {
    let ex = exporter(conn)?;
    let proven = async {
        // Opened (and so numbered) before `first` can open its stream.
        let (mut send, recv) = conn.open_bi().await.map_err(NegotiateError::transport)?;
        write_msg(&mut send, &Message::Hello(sign_binding(signer, role, &ex)?)).await?;
        let _ = send.finish();
        Ok::<_, NegotiateError>(recv)
    }
    .await;
    let r = match proven {
        Ok(mut recv) => {
            let check = async {
                let a = read_assembled(&mut recv, &[MessageType::Hello], limits).await?;
                let Message::Hello(h) = a.head else {
                    return Err(NegotiateError::Transport("no hello".into()));
                };
                verify_binding(&h, Role::Orchestrator, &ex, Some(expected))?;
                Ok(())
            };
            let (bound, answer) = tokio::join!(check, first);
            bound.map(|()| answer)
        }
        Err(e) => Err(e),
    };
    if r.is_err() {
        conn.close(1u8.into(), b"identity");
    }
    r
}

/// The server side: reads the client's proof as `role`, answers with ours, and returns the
/// client's proven address. Refuses (closes) the connection on failure.
pub(crate) async fn bind_server(
    conn: &quinn::Connection,
    signer: &dyn Signer,
    role: Role,
    limits: ReadLimits,
) -> Result<Address, NegotiateError> {
    let ex = exporter(conn)?;
    let r = async {
        let (mut send, mut recv) = conn.accept_bi().await.map_err(NegotiateError::transport)?;
        let a = read_assembled(&mut recv, &[MessageType::Hello], limits).await?;
        let Message::Hello(h) = a.head else {
            return Err(NegotiateError::Transport("no hello".into()));
        };
        let peer = match verify_binding(&h, role, &ex, None) {
            Ok(p) => p,
            Err(e) => {
                send_error(
                    &mut send,
                    WireError::new(crate::ErrorCode::Unauthorized, e.to_string()),
                )
                .await;
                return Err(e.into());
            }
        };
        write_msg(
            &mut send,
            &Message::Hello(sign_binding(signer, Role::Orchestrator, &ex)?),
        )
        .await?;
        let _ = send.finish();
        Ok(peer)
    }
    .await;
    if r.is_err() {
        conn.close(1u8.into(), b"identity");
    }
    r
}
