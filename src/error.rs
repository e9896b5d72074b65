//! Kafka error codes: the one vocabulary every layer may use to say what went wrong to a client.
//!
//! Coordinators (groups, transactions) answer with Kafka's codes directly, because their results
//! are protocol outcomes (REBALANCE_IN_PROGRESS, PRODUCER_FENCED, ...). Lower layers keep typed
//! errors (`LogError`, `AppendError`, `TopicError`) and the API layer maps them to these codes.
//! Nothing here depends on any other module of fjord.

/// Kafka's error codes, by name (`KafkaError::UnknownMemberId.code()`).
pub use kafka_protocol::ResponseError as KafkaError;

/// A Kafka error code as it travels in a response (`KafkaError::code()`), [`NONE`] for success.
pub type Code = i16;

/// Success.
pub const NONE: Code = 0;
