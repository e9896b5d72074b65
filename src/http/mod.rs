//! The HTTP listener (`fjord.http.listener`, default `localhost:9644`): Prometheus `/metrics`,
//! `/health` and `/ready`, the JSON API under `/api/v1/` ([`api`]) and the web console at `/`
//! ([`console`]). It runs beside the Kafka listeners on the same runtime and never
//! holds them up: a scrape is encoded on a blocking thread, and every handler takes only the
//! short locks the Kafka request path takes itself.

pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::broker::Broker;
use auth::Peer;

/// Bind the configured HTTP listener. A port that is taken (a second broker on this machine)
/// is logged and skipped: the Kafka listeners matter more.
pub async fn bind(broker: &Broker) -> Option<TcpListener> {
    let addr = broker.config.http_listener.as_deref()?;
    match TcpListener::bind(addr).await {
        Ok(l) => {
            let local = l.local_addr().ok();
            if let Some(local) = local {
                if !local.ip().is_loopback() && !broker.security.authorizer.enabled() {
                    tracing::warn!(
                        "the HTTP listener on {local} is reachable from other machines and has no authentication: its console and JSON API can create, delete and write topics (fjord.http.listener; with an authorizer, they require a SCRAM user's HTTP Basic login)"
                    );
                }
                tracing::info!(
                    "HTTP listening on http://{local} (console at /, JSON API at /api/v1/, /metrics, /health, /ready; fjord.http.listener)"
                );
            }
            Some(l)
        }
        Err(e) => {
            tracing::warn!(
                "cannot bind the HTTP listener {addr}: {e}; serving Kafka without /metrics (set fjord.http.listener to another host:port, or to nothing)"
            );
            None
        }
    }
}

/// Serve until `shutdown` flips to true. The HTTP stack starts at the first connection, so a
/// broker nobody scrapes does not carry its code in memory (idle RSS is a goal of its own).
pub async fn serve(
    mut listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let first = tokio::select! {
        c = axum::serve::Listener::accept(&mut listener) => c,
        _ = stopped(&mut shutdown) => return,
    };
    let app = router(broker).into_make_service_with_connect_info::<Peer>();
    let listener = FirstThen {
        first: Some(first),
        listener,
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stopped(&mut shutdown).await })
        .await
    {
        tracing::warn!("HTTP listener stopped: {e}");
    }
}

fn router(broker: Arc<Broker>) -> Router {
    use api::*;
    let v1 = Router::new()
        .route("/cluster", get(cluster))
        .route("/topics", get(list_topics).post(create_topic))
        .route("/topics/{topic}", get(topic).delete(delete_topic))
        .route("/topics/{topic}/partitions", post(add_partitions))
        .route(
            "/topics/{topic}/configs",
            axum::routing::patch(alter_configs),
        )
        .route("/topics/{topic}/messages", post(produce))
        .route(
            "/topics/{topic}/partitions/{partition}/messages",
            get(messages),
        )
        .route("/groups", get(list_groups))
        .route("/groups/{group}", get(group).delete(delete_group))
        .route("/groups/{group}/offsets/reset", post(reset_offsets))
        .route(
            "/acls",
            get(acls::list_acls)
                .post(acls::create_acl)
                .delete(acls::delete_acls),
        )
        .route("/transactions", get(transactions::list_transactions))
        .route("/transactions/{id}", get(transactions::transaction))
        .fallback(not_found);
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .nest("/api/v1", v1)
        .route("/api/{*rest}", axum::routing::any(not_found))
        .with_state(broker)
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, FirstThen>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, FirstThen>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// The listener with its first connection already accepted.
struct FirstThen {
    first: Option<(TcpStream, SocketAddr)>,
    listener: TcpListener,
}

impl axum::serve::Listener for FirstThen {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.first.take() {
            Some(c) => c,
            None => axum::serve::Listener::accept(&mut self.listener).await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// The process is up and its runtime answers.
async fn health() -> &'static str {
    "ok\n"
}

/// 200 once the broker serves clients (logs recovered, listeners bound; in a cluster, accepted
/// by the active controller), 503 before.
async fn ready(State(broker): State<Arc<Broker>>) -> Response {
    if broker.serving.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn metrics_page(State(broker): State<Arc<Broker>>) -> Response {
    match tokio::task::spawn_blocking(move || metrics::scrape(&broker)).await {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!("cannot encode /metrics: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::warn!("/metrics scrape failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
