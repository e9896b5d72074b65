//! What a configuration value is: its kind, the error a bad one gets, and which layer it came
//! from. Shared by every part of [`super`]; depends on nothing.

use std::path::PathBuf;

/// What kind of value a key holds, as DescribeConfigs reports it (config_type, KIP-569).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("malformed --override '{0}': expected key=value")]
    Override(String),
}

pub(super) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

pub(super) fn validate_type(key: &str, kind: ConfigType, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    let ok = match kind {
        ConfigType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ConfigType::Int => v.parse::<i32>().is_ok(),
        ConfigType::Short => v.parse::<i16>().is_ok(),
        ConfigType::Long => v.parse::<i64>().is_ok(),
        ConfigType::Double => v.parse::<f64>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(key, value, format!("expected {kind:?}")))
    }
}

/// Where a broker key's value comes from (DescribeConfigs' config source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// server.properties, KAFKA_* environment, --override (STATIC_BROKER_CONFIG).
    Static,
    /// Set for all brokers at runtime (DYNAMIC_DEFAULT_BROKER_CONFIG).
    DynamicDefault,
    /// Set for this broker at runtime (DYNAMIC_BROKER_CONFIG).
    DynamicBroker,
}
