//! Listeners and connections: accept, frame, hand each request to `api`,
//! write responses back in request order. Knows nothing about topics.
//!
//! Kafka processes one request per connection at a time (the channel is muted
//! until the response is sent), and clients rely on that ordering; a
//! connection task here does the same. A bad frame closes only its own
//! connection, with a log line.
//!
//! SSL and SASL_SSL listeners wrap each connection in TLS ([`tls`]); the handshake runs in the
//! connection's own task, so a slow or bad client never holds up the accept loop.

mod conn_io;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::api::{self, ConnectionInfo};
use crate::broker::Broker;
use crate::config::{Listener, SecurityProtocol};
use crate::security::Principal;
use conn_io::{FrameReader, ReadError, ResponseWriter, Sink, Source};
use tls::TlsListener;

pub struct Server {
    broker: Arc<Broker>,
    listeners: Vec<BoundListener>,
}

struct BoundListener {
    listener: Listener,
    socket: TcpListener,
    /// The TLS acceptor of an SSL or SASL_SSL listener.
    tls: Option<Arc<TlsListener>>,
}

impl Server {
    /// Bind every configured listener.
    pub async fn bind(broker: Arc<Broker>) -> std::io::Result<Server> {
        // Every listener's security settings are checked before any port is bound: a broker
        // that accepts on one port accepts on all of them.
        crate::security::sasl::inter_broker_login(&broker.config).map_err(std::io::Error::other)?;
        let mut acceptors = Vec::new();
        for l in &broker.config.listeners {
            if l.protocol.sasl() {
                let warnings = api::sasl::check_listener(&broker.config, &l.name)
                    .map_err(std::io::Error::other)?;
                for w in warnings {
                    tracing::warn!("{w}");
                }
            }
            acceptors.push(if l.protocol.tls() {
                let tls = TlsListener::from_config(&broker.config, l)
                    .map_err(|e| std::io::Error::other(format!("listener {l}: {e}")))?;
                Some(Arc::new(tls))
            } else {
                None
            });
        }
        let mut listeners = Vec::new();
        for (l, tls) in broker.config.listeners.iter().zip(acceptors) {
            let host = if l.host.is_empty() {
                "0.0.0.0"
            } else {
                l.host.as_str()
            };
            let sock = TcpListener::bind((host, l.port)).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot bind listener {l}: {e}"))
            })?;
            listeners.push(BoundListener {
                listener: l.clone(),
                socket: sock,
                tls,
            });
        }
        let server = Server { broker, listeners };
        // Advertised listeners with port 0 are told with the port picked here (`Broker::brokers`).
        let _ = server.broker.bound_listeners.set(server.local_addrs());
        Ok(server)
    }

    /// The bound addresses, by listener name (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|b| {
                let addr = b.socket.local_addr().ok()?;
                Some((b.listener.name.clone(), addr))
            })
            .collect()
    }

    /// Serve until `shutdown` flips to true; then stop accepting (the listeners close), let
    /// every connection finish the request it is in (an idle one closes at once), and return
    /// once all are closed or after [`SHUTDOWN_DRAIN`].
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        self.broker.start_background(shutdown.clone());
        let limits = Arc::new(ConnectionLimits::new(&self.broker.config));
        let inter_broker = self
            .broker
            .config
            .cluster
            .as_ref()
            .map(|c| c.inter_broker_listener.clone());
        // Every connection task holds a clone; recv() sees None once all are gone.
        let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut tasks = Vec::new();
        for bound in self.listeners {
            let name = &bound.listener;
            if let Ok(addr) = bound.socket.local_addr() {
                tracing::info!("listening on {}://{addr} ({})", name.name, name.protocol);
            }
            let broker = self.broker.clone();
            let shutdown = shutdown.clone();
            // Brokers must always reach each other: the inter-broker listener is not limited
            // (Kafka exempts it from max.connections too).
            let limits =
                (inter_broker.as_deref() != Some(name.name.as_str())).then(|| limits.clone());
            tasks.push(tokio::spawn(accept_loop(
                bound,
                broker,
                shutdown,
                open_tx.clone(),
                limits,
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
        drop(open_tx);
        let busy = open_rx.sender_strong_count();
        if busy > 0 {
            tracing::info!("waiting for {busy} connections to finish their requests");
        }
        if tokio::time::timeout(SHUTDOWN_DRAIN, open_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} connections still busy after {SHUTDOWN_DRAIN:?}; closing them",
                open_rx.sender_strong_count()
            );
        }
    }
}

/// How long a shutdown waits for requests in progress (a long-polling fetch, an acks=all
/// produce) to be answered before closing their connections.
pub const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `max.connections` and `max.connections.per.ip`, shared by the limited listeners.
struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    overrides: std::collections::HashMap<IpAddr, usize>,
    /// Open connections in all, and per address.
    open: parking_lot::Mutex<(usize, std::collections::HashMap<IpAddr, usize>)>,
    freed: tokio::sync::Notify,
}

/// One admitted connection's place in [`ConnectionLimits`], given back when dropped.
struct ConnectionSlot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    fn new(config: &crate::config::Config) -> Self {
        ConnectionLimits {
            max_total: config.max_connections,
            max_per_ip: config.max_connections_per_ip,
            overrides: config
                .max_connections_per_ip_overrides
                .iter()
                .copied()
                .collect(),
            open: parking_lot::Mutex::new((0, Default::default())),
            freed: tokio::sync::Notify::new(),
        }
    }

    fn full(&self) -> bool {
        self.open.lock().0 >= self.max_total
    }

    /// Until fewer than `max.connections` are open.
    async fn wait_for_slot(&self) {
        loop {
            let freed = self.freed.notified();
            if !self.full() {
                return;
            }
            freed.await;
        }
    }

    /// Count a connection from `ip`, or refuse it: `Err(limit)` when its address already has
    /// as many as it may.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, usize> {
        let limit = self.overrides.get(&ip).copied().unwrap_or(self.max_per_ip);
        let mut open = self.open.lock();
        let n = open.1.get(&ip).copied().unwrap_or(0);
        if n >= limit {
            return Err(limit);
        }
        open.1.insert(ip, n + 1);
        open.0 += 1;
        Ok(ConnectionSlot {
            limits: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
        drop(open);
        self.limits.freed.notify_waiters();
    }
}

async fn accept_loop(
    bound: BoundListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
    open: tokio::sync::mpsc::Sender<()>,
    limits: Option<Arc<ConnectionLimits>>,
) {
    let BoundListener {
        listener: name,
        socket: listener,
        tls,
    } = bound;
    let mut backoff_ms = 5;
    loop {
        if let Some(limits) = limits.as_ref().filter(|l| l.full()) {
            tracing::warn!(
                "max.connections ({}) reached: {} stops accepting until a connection closes",
                limits.max_total,
                name.name
            );
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = limits.wait_for_slot() => {}
            }
            tracing::info!("{} accepts connections again", name.name);
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff_ms = 5;
                    let slot = match &limits {
                        None => None,
                        Some(l) => match l.admit(peer.ip()) {
                            Ok(slot) => Some(slot),
                            Err(limit) => {
                                tracing::info!(
                                    "rejected connection from {}: the address already has the configured maximum of {limit} connections (max.connections.per.ip)",
                                    peer.ip()
                                );
                                drop(stream);
                                continue;
                            }
                        },
                    };
                    let _ = stream.set_nodelay(true);
                    let info = ConnectionInfo {
                        conn_id: NEXT_CONN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        listener: name.name.clone(),
                        protocol: name.protocol,
                        peer,
                        client_software: Default::default(),
                        principal: Principal::anonymous(),
                    };
                    let counted = broker.metrics.connection(&name.name);
                    let broker = broker.clone();
                    let shutdown = shutdown.clone();
                    let open = open.clone();
                    match &tls {
                        None => {
                            tokio::spawn(async move {
                                let (rd, wr) = stream.into_split();
                                serve_connection(rd, wr, info, broker, shutdown).await;
                                drop((open, slot, counted));
                            });
                        }
                        Some(tls) => {
                            let tls = tls.clone();
                            tokio::spawn(async move {
                                serve_tls(stream, tls, info, broker, shutdown).await;
                                drop((open, slot, counted));
                            });
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed on {}: {e}", name.name);
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(backoff_ms)) => {}
                    }
                    backoff_ms = (backoff_ms * 2).min(1000);
                }
            }
        }
    }
}

/// A TLS connection: the handshake (bounded by [`tls::HANDSHAKE_TIMEOUT`]), then its requests.
/// A failed handshake closes only this connection, with an info line.
async fn serve_tls(
    stream: TcpStream,
    tls: Arc<TlsListener>,
    mut info: ConnectionInfo,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let accepted = tokio::select! {
        _ = shutdown.changed() => return,
        accepted = tls.accept(stream) => accepted,
    };
    let (stream, principal) = match accepted {
        Ok(a) => a,
        Err(e) if e.is_eof() => {
            // Closed before or during the handshake: a port probe, or a client giving up.
            tracing::debug!(peer = %info.peer, listener = %info.listener, "closing connection: {e}");
            return;
        }
        Err(e) => {
            tracing::info!(peer = %info.peer, listener = %info.listener, "closing connection: {e}");
            return;
        }
    };
    // On SASL_SSL the principal is the SASL one; the certificate only identifies SSL clients.
    if info.protocol == SecurityProtocol::Ssl {
        info.principal = principal;
    }
    tracing::debug!(
        peer = %info.peer,
        listener = %info.listener,
        "TLS connection established, principal {}",
        info.principal
    );
    let (rd, wr) = tokio::io::split(stream);
    serve_connection(rd, wr, info, broker, shutdown).await;
}

/// Connection ids (`ConnectionInfo::conn_id`), unique in this process.
static NEXT_CONN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Serve one connection's requests, given its two halves: a TCP stream's own halves, or a
/// TLS stream's (`tokio::io::split`); when it ends, the broker is told (its share sessions
/// end).
async fn serve_connection<R, W>(
    rd: R,
    wr: W,
    info: ConnectionInfo,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) where
    R: Source,
    W: Sink,
{
    let conn_id = info.conn_id;
    serve_requests(rd, wr, info, &broker, shutdown).await;
    broker.connection_closed(conn_id).await;
}

async fn serve_requests<R, W>(
    rd: R,
    wr: W,
    info: ConnectionInfo,
    broker: &Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) where
    R: Source,
    W: Sink,
{
    let mut session = api::Session::new(info);
    let mut rd = FrameReader::new(rd);
    let mut wr = ResponseWriter::new(wr);
    loop {
        let next = tokio::select! {
            // A request that has arrived is answered, even during a shutdown (bounded by the
            // server's drain); an idle connection closes.
            biased;
            len = rd.next_len() => len,
            _ = shutdown.changed() => return,
        };
        let max = session.max_frame(&broker.config);
        let frame = match next {
            Ok(_) => rd.frame(max).await,
            Err(e) => Err(e),
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(ReadError::Closed) => return,
            Err(ReadError::MidFrame(e)) => {
                let why = e.map(|e| format!(": {e}")).unwrap_or_default();
                tracing::debug!(peer = %session.info.peer, "connection closed mid-frame{why}");
                return;
            }
            Err(ReadError::Size { len, max }) => {
                let key = if max == broker.config.socket_request_max_bytes {
                    "socket.request.max.bytes"
                } else {
                    "sasl.server.max.receive.size, before authentication"
                };
                tracing::warn!(
                    peer = %session.info.peer,
                    "closing connection: frame of {len} bytes is outside 0..={max} ({key})"
                );
                return;
            }
        };
        match api::handle_frame(broker, &mut session, frame).await {
            Ok(Some(chunks)) => {
                if let Err(e) = wr.write(chunks).await {
                    tracing::debug!(peer = %session.info.peer, "closing connection: write failed: {e}");
                    return;
                }
                if let Some(delay) = session.close_after() {
                    // A failed authentication: answered, then closed after a delay (Kafka's
                    // connection.failed.authentication.delay.ms).
                    let _ = wr.flush().await;
                    tokio::select! {
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(delay) => {}
                    }
                    return;
                }
                // Pipelined requests already read get their responses in one write.
                if !rd.has_frame() && wr.flush().await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                match e {
                    api::FrameError::Refused(_) | api::FrameError::AuthenticationFailed => {
                        tracing::info!(peer = %session.info.peer, "closing connection: {e}")
                    }
                    _ => tracing::warn!(peer = %session.info.peer, "closing connection: {e}"),
                }
                let _ = wr.flush().await;
                return;
            }
        }
    }
}
