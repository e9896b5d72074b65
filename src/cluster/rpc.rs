//! The CONTROLLER listener's wire format: Raft RPCs between voters and broker-to-controller
//! requests, each a frame `[u32 big-endian length][JSON]`, answered by one frame in the same
//! order. Every request carries the sender's cluster id; a node of another cluster is answered
//! with an error and logged, never obeyed.
//!
//! **Owns:** framing, one lazily (re)connected TCP connection per peer with one request in
//! flight, and the accept loop that hands each decoded request to a handler.
//!
//! **Must never:** interpret a request (the handler does) or retry one (callers decide).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::controller::{ControllerReply, ControllerRequest};
use super::raft::election::{PreVoteRequest, PreVoteResponse};
use super::raft::types::{NodeId, TypeConfig};

/// Frames larger than this close the connection (a snapshot chunk is at most a few MiB).
const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub cluster_id: String,
    pub from: i32,
    pub body: Request,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// Would the voter vote for this candidate? Asked before a real election; changes nothing.
    PreVote(PreVoteRequest),
    Controller(ControllerRequest),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    Snapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    PreVote(PreVoteResponse),
    /// The controller's answer, and the metadata log index it had applied when it answered (the
    /// asking node waits to have applied as much, so it reads its own writes).
    Controller(ControllerReply, u64),
    /// The request could not be served at all (another cluster's node, a request this node's
    /// role does not take).
    Refused(String),
}

async fn write_frame<T: Serialize>(stream: &mut TcpStream, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await
}

async fn read_frame<T: DeserializeOwned>(stream: &mut TcpStream) -> io::Result<T> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is larger than {MAX_FRAME}"),
        ));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// One peer: a connection made on first use and again after any error.
pub struct Client {
    addr: String,
    cluster_id: String,
    from: i32,
    conn: tokio::sync::Mutex<Option<TcpStream>>,
}

impl Client {
    pub fn new(addr: String, cluster_id: String, from: i32) -> Client {
        Client {
            addr,
            cluster_id,
            from,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Send one request and wait for its reply, within `timeout`. The connection is taken
    /// out for the exchange and put back only after a whole reply was read, so a call that
    /// fails or is dropped half-way (openraft cancels slow RPCs) closes it: a later call never
    /// reads an earlier call's reply.
    pub async fn call(&self, body: Request, timeout: Duration) -> io::Result<Reply> {
        let envelope = Envelope {
            cluster_id: self.cluster_id.clone(),
            from: self.from,
            body,
        };
        tokio::time::timeout(timeout, async {
            let mut guard = self.conn.lock().await;
            let mut stream = match guard.take() {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(&self.addr).await?;
                    s.set_nodelay(true)?;
                    s
                }
            };
            write_frame(&mut stream, &envelope).await?;
            let reply = read_frame::<Reply>(&mut stream).await?;
            *guard = Some(stream);
            Ok(reply)
        })
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no reply in time")))
    }
}

/// Serve the CONTROLLER listener: each connection reads requests and answers them in order with
/// `handler`. Stops when `shutdown` turns true.
pub async fn serve<H, F>(
    listener: TcpListener,
    cluster_id: String,
    handler: H,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    H: Fn(i32, Request) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send,
{
    let handler = Arc::new(handler);
    let cluster_id = Arc::new(cluster_id);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("controller listener accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let cluster_id = cluster_id.clone();
        tokio::spawn(async move {
            loop {
                let envelope: Envelope = match read_frame(&mut stream).await {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return,
                    Err(e) => {
                        tracing::warn!(%peer, "controller connection closed: {e}");
                        return;
                    }
                };
                let reply = if envelope.cluster_id != *cluster_id {
                    tracing::warn!(
                        %peer,
                        node = envelope.from,
                        their_cluster = %envelope.cluster_id,
                        "refused a request from a node of another cluster (cluster.id {})",
                        cluster_id
                    );
                    Reply::Refused(format!(
                        "this node belongs to cluster {cluster_id}, not {}",
                        envelope.cluster_id
                    ))
                } else {
                    handler(envelope.from, envelope.body).await
                };
                if let Err(e) = write_frame(&mut stream, &reply).await {
                    tracing::debug!(%peer, "controller connection closed: {e}");
                    return;
                }
            }
        });
    }
}
