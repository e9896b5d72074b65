//! ApiVersions (key 18), v0–v4: the versions fjord serves, from [`super::supported::SUPPORTED`]
//! (and, on a cluster node, [`super::supported::CLUSTER_ONLY`]).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::context::{RequestContext, str_bytes};
use super::supported::advertised_apis;

fn api_keys(cluster: bool) -> Vec<ApiVersion> {
    advertised_apis(cluster)
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect()
}

/// Feature levels (KIP-584) this broker supports and has finalized:
/// (name, supported min, supported max, finalized level).
///
/// `group.version` 1: the KIP-848 consumer protocol is on. `transaction.version`
/// stays 0: level 2 would switch Java producers to KIP-890 part 2 (implicit
/// partition adds through Produce), which fjord does not implement. `share.version` 1: share
/// groups (KIP-932) are on, as on a Kafka 4.2 cluster; fjord has no UpdateFeatures, so they
/// cannot be switched off.
pub const FEATURES: &[(&str, i16, i16, i16)] = &[
    ("group.version", 0, 1, 1),
    ("transaction.version", 0, 0, 0),
    ("share.version", 0, 1, 1),
];

pub fn handle(ctx: &RequestContext, req: ApiVersionsRequest) -> ApiVersionsResponse {
    if ctx.version >= 3 {
        // KIP-511: which client library this connection is.
        ctx.conn
            .client_software
            .get_or_init(|| req.client_software_name.to_string());
        tracing::debug!(
            peer = %ctx.conn.peer,
            software = %req.client_software_name.as_str(),
            version = %req.client_software_version.as_str(),
            "client software"
        );
    }
    let cluster = ctx.broker.cluster.is_some();
    let mut resp = ApiVersionsResponse::default().with_api_keys(api_keys(cluster));
    if ctx.version >= 3 {
        resp.supported_features = FEATURES
            .iter()
            .map(|&(name, min, max, _)| {
                SupportedFeatureKey::default()
                    .with_name(str_bytes(name))
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect();
        resp.finalized_features_epoch = 0;
        resp.finalized_features = FEATURES
            .iter()
            .filter(|f| f.3 > 0)
            .map(|&(name, _, _, level)| {
                FinalizedFeatureKey::default()
                    .with_name(str_bytes(name))
                    .with_min_version_level(level)
                    .with_max_version_level(level)
            })
            .collect();
    }
    resp
}

/// KIP-511: the v0-format answer to an ApiVersions version we don't know.
pub fn unsupported_version_response(cluster: bool) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_keys(cluster))
}
