//! The web console at `/`: one HTML page, a stylesheet and a script, compiled into the binary
//! (no build chain, no CDN: it works offline). It reads and writes only through the JSON API
//! ([`super::api`]), as the logged-in caller.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/app.js");
const STYLE: &str = include_str!("console/style.css");

/// The page (behind the same login as the JSON API, so a browser asks for it once).
pub async fn index(_caller: Caller) -> Response {
    page("text/html; charset=utf-8", INDEX)
}

pub async fn asset(_caller: Caller, Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => page("text/javascript; charset=utf-8", SCRIPT),
        "style.css" => page("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
