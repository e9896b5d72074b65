//! The JSON API's errors: `{"error": "<KAFKA_ERROR_NAME>", "message": "..."}` with an HTTP
//! status that fits the Kafka error.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kafka_protocol::ResponseError as E;
use kafka_protocol::protocol::StrBytes;
use serde_json::json;

/// An answer that is not a success: the Kafka error's name, a message, and the HTTP status.
#[derive(Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.to_string(),
            message: message.into(),
        }
    }

    /// Bad input that never reached a Kafka handler.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// A Kafka error code from a handler, with its message (Kafka's default text without one).
    pub fn kafka(code: i16, message: Option<&StrBytes>) -> ApiError {
        let err = E::try_from_code(code).unwrap_or(E::UnknownServerError);
        let name = error_name(err);
        let message = match message {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => default_message(err),
        };
        ApiError {
            status: status_of(err, &name),
            error: name,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "message": self.message})),
        )
            .into_response()
    }
}

/// Kafka's name of an error (`UNKNOWN_TOPIC_OR_PARTITION`), from kafka-protocol's variant name.
pub fn error_name(err: E) -> String {
    if let E::Unknown(code) = err {
        return format!("UNKNOWN_ERROR_CODE_{code}");
    }
    let camel = format!("{err:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A message for an error its handler gave none for: the name in words ("Topic authorization
/// failed.").
fn default_message(err: E) -> String {
    let name = error_name(err).replace('_', " ").to_lowercase();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn status_of(err: E, name: &str) -> StatusCode {
    match err {
        E::OffsetOutOfRange => StatusCode::RANGE_NOT_SATISFIABLE,
        E::UnknownTopicOrPartition
        | E::GroupIdNotFound
        | E::UnknownTopicId
        | E::TransactionalIdNotFound => StatusCode::NOT_FOUND,
        E::TopicAlreadyExists | E::NonEmptyGroup => StatusCode::CONFLICT,
        E::UnknownServerError | E::KafkaStorageError => StatusCode::INTERNAL_SERVER_ERROR,
        _ if name.ends_with("_AUTHORIZATION_FAILED") => StatusCode::FORBIDDEN,
        e if e.is_retriable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::str_bytes;

    #[test]
    fn error_names_and_statuses() {
        let e = ApiError::kafka(E::UnknownTopicOrPartition.code(), None);
        assert_eq!(e.error, "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e = ApiError::kafka(E::OffsetOutOfRange.code(), None);
        assert_eq!(
            (e.error.as_str(), e.status),
            ("OFFSET_OUT_OF_RANGE", StatusCode::RANGE_NOT_SATISFIABLE)
        );
        let e = ApiError::kafka(E::TopicAuthorizationFailed.code(), None);
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let e = ApiError::kafka(
            E::InvalidTopicException.code(),
            Some(&str_bytes("bad name")),
        );
        assert_eq!(
            (e.error.as_str(), e.message.as_str()),
            ("INVALID_TOPIC_EXCEPTION", "bad name")
        );
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            ApiError::kafka(E::TopicAlreadyExists.code(), None).status,
            StatusCode::CONFLICT
        );
        assert_eq!(ApiError::kafka(999, None).error, "UNKNOWN_ERROR_CODE_999");
        assert_eq!(
            ApiError::kafka(E::TopicAuthorizationFailed.code(), None).message,
            "Topic authorization failed."
        );
    }
}
