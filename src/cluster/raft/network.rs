//! openraft's network, carried over [`rpc`](crate::cluster::rpc) frames on the voters'
//! CONTROLLER listeners, and the elector's pre-votes over the same frames. A peer's address comes
//! from `controller.quorum.voters` by node id (the address in the Raft membership is frozen when
//! the quorum first forms).

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::election::{PreVoteNetwork, PreVoteRequest, PreVoteResponse};
use super::types::{NodeId, TypeConfig};
use crate::cluster::rpc::{Client, Reply, Request};

type RpcErr<E = openraft::error::Infallible> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

/// Hands openraft (or the elector) a client per peer.
#[derive(Clone)]
pub struct Network {
    peers: Arc<BTreeMap<NodeId, Arc<Client>>>,
}

impl Network {
    pub fn new(peers: Arc<BTreeMap<NodeId, Arc<Client>>>) -> Network {
        Network { peers }
    }
}

pub struct Peer {
    target: NodeId,
    client: Option<Arc<Client>>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Peer {
        Peer {
            target,
            client: self.peers.get(&target).cloned(),
        }
    }
}

fn unreachable<E: std::error::Error>(e: &io::Error) -> RPCError<NodeId, BasicNode, E> {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::Other => {
            RPCError::Network(NetworkError::new(e))
        }
        _ => RPCError::Unreachable(Unreachable::new(e)),
    }
}

impl Peer {
    async fn call<E: std::error::Error>(
        &self,
        request: Request,
        timeout: Duration,
    ) -> Result<Reply, RPCError<NodeId, BasicNode, E>> {
        let Some(client) = &self.client else {
            let e = io::Error::new(
                io::ErrorKind::NotFound,
                format!("node {} is not in controller.quorum.voters", self.target),
            );
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        };
        let reply = client
            .call(request, timeout)
            .await
            .map_err(|e| unreachable(&e))?;
        if let Reply::Refused(why) = &reply {
            let e = io::Error::other(why.clone());
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        }
        Ok(reply)
    }

    fn unexpected<E: std::error::Error>(reply: Reply) -> RPCError<NodeId, BasicNode, E> {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected reply {reply:?}"),
        );
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        match self.call(Request::Append(rpc), option.hard_ttl()).await? {
            Reply::Append(Ok(r)) => Ok(r),
            Reply::Append(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        match self.call(Request::Vote(rpc), option.hard_ttl()).await? {
            Reply::Vote(Ok(r)) => Ok(r),
            Reply::Vote(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            other => Err(Self::unexpected(other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        // A chunk can be megabytes: allow more than a heartbeat for it.
        let timeout = option.hard_ttl().max(Duration::from_secs(5));
        match self.call(Request::Snapshot(rpc), timeout).await? {
            Reply::Snapshot(Ok(r)) => Ok(r),
            Reply::Snapshot(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            other => Err(Self::unexpected(other)),
        }
    }
}

impl PreVoteNetwork for Network {
    async fn pre_vote(
        &self,
        to: NodeId,
        req: PreVoteRequest,
        timeout: Duration,
    ) -> io::Result<PreVoteResponse> {
        let client = self.peers.get(&to).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("node {to} is not in controller.quorum.voters"),
            )
        })?;
        match client.call(Request::PreVote(req), timeout).await? {
            Reply::PreVote(r) => Ok(r),
            Reply::Refused(why) => Err(io::Error::other(why)),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected reply {other:?}"),
            )),
        }
    }
}
