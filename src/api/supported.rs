//! What fjord advertises in ApiVersions and accepts: [`SUPPORTED`] is the single source of
//! truth, with [`CLUSTER_ONLY`] added on a node of a cluster. An API or version is listed only
//! once it is implemented and covered by a real-client test (docs/compatibility.md, which a
//! unit test here holds to these tables).

use kafka_protocol::messages::ApiKey;

use super::legacy_codec;

/// (API, lowest advertised version, highest advertised version).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    // v0-v2 (message formats v0/v1), Fetch v0-v3 and ListOffsets v0 are the
    // versions Kafka 4 dropped (KIP-896); fjord serves them for old clients,
    // through api::legacy_codec (kafka-protocol 0.18 no longer carries them).
    (ApiKey::Produce, 0, 13),
    (ApiKey::Fetch, 0, 18),
    (ApiKey::ListOffsets, 0, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::ApiVersions, 0, 4),
    // Authentication on SASL listeners (api::sasl).
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::CreateTopics, 0, 7),
    (ApiKey::DeleteTopics, 0, 6),
    // v6 exists, but the codec decodes requests only up to v5.
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeQuorum, 0, 2),
    // Consumer groups (classic protocol).
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    // v10 exists, but the codec decodes requests only up to v9.
    (ApiKey::OffsetCommit, 0, 9),
    (ApiKey::OffsetFetch, 0, 9),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    // Consumer groups (KIP-848 consumer protocol).
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    // Share groups (KIP-932); v0 was Kafka 4.0's early access, removed in 4.1.
    (ApiKey::ShareGroupHeartbeat, 1, 1),
    (ApiKey::ShareGroupDescribe, 1, 1),
    // Share-group offsets (KIP-932, design §9); DescribeShareGroupOffsets v1 adds Lag
    // (KIP-1226, vendored codec patched).
    (ApiKey::DescribeShareGroupOffsets, 0, 1),
    (ApiKey::AlterShareGroupOffsets, 0, 0),
    (ApiKey::DeleteShareGroupOffsets, 0, 0),
    // Transactions.
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    // Between brokers of a cluster: a transaction coordinator's markers.
    (ApiKey::WriteTxnMarkers, 1, 1),
    // Admin surface.
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::DeleteRecords, 0, 2),
    // Security metadata: ACLs (v0 dropped in Kafka 4, KIP-896) and SCRAM credentials.
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // Share groups (KIP-932): v1-2 as Kafka 4.2, v2 being record-limit acquisition
    // (KIP-1206) and RENEW (KIP-1222) (design share-groups.md §3, §7.8).
    (ApiKey::ShareFetch, 1, 2),
    (ApiKey::ShareAcknowledge, 1, 2),
];

/// APIs only a node of a cluster serves: the share coordinator's (KIP-932, design
/// share-groups.md §14.1), which share-partition leaders and group coordinators call on each
/// other. A single broker keeps share state itself (`share::LocalPersister`) and has no use
/// for them, so it neither advertises nor accepts them.
pub const CLUSTER_ONLY: &[(ApiKey, i16, i16)] = &[
    (ApiKey::InitializeShareGroupState, 0, 0),
    (ApiKey::ReadShareGroupState, 0, 0),
    (ApiKey::WriteShareGroupState, 0, 1),
    (ApiKey::DeleteShareGroupState, 0, 0),
    (ApiKey::ReadShareGroupStateSummary, 0, 1),
];

/// Every advertised API: [`SUPPORTED`], and on a cluster node [`CLUSTER_ONLY`] too.
pub fn advertised_apis(cluster: bool) -> impl Iterator<Item = &'static (ApiKey, i16, i16)> {
    let extra: &'static [(ApiKey, i16, i16)] = if cluster { CLUSTER_ONLY } else { &[] };
    SUPPORTED.iter().chain(extra)
}

/// The advertised range of an API on a single broker, if any.
pub fn advertised(key: ApiKey) -> Option<(i16, i16)> {
    advertised_in(key, false)
}

/// The advertised range of an API on a single broker or (`cluster`) a cluster node.
pub fn advertised_in(key: ApiKey, cluster: bool) -> Option<(i16, i16)> {
    advertised_apis(cluster)
        .find(|(k, _, _)| *k == key)
        .map(|&(_, lo, hi)| (lo, hi))
}

/// Whether a single broker serves a request of this API and version.
pub fn accepts(key: ApiKey, version: i16) -> bool {
    accepts_in(key, version, false)
}

/// Whether a single broker or (`cluster`) a cluster node serves this API and version.
pub fn accepts_in(key: ApiKey, version: i16, cluster: bool) -> bool {
    // What the codec can decode, or fjord's own codec for the versions it dropped.
    let decodable = version >= key.valid_versions().min || legacy_codec::carries(key, version);
    matches!(advertised_in(key, cluster), Some((lo, hi)) if decodable && version >= lo && version <= hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/compatibility.md lists exactly the advertised APIs and ranges.
    #[test]
    fn compatibility_doc_lists_every_advertised_api() {
        let doc = include_str!("../../docs/compatibility.md");
        let begin = doc.find("<!-- apis:begin -->").expect("apis:begin marker");
        let end = doc.find("<!-- apis:end -->").expect("apis:end marker");
        let rows: Vec<Vec<&str>> = doc[begin..end]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| key") && !l.starts_with("| ---"))
            .map(|l| l.split('|').map(str::trim).collect())
            .collect();
        assert_eq!(
            rows.len(),
            SUPPORTED.len() + CLUSTER_ONLY.len(),
            "one row per advertised API"
        );
        for (key, lo, hi) in advertised_apis(true) {
            let row = rows
                .iter()
                .find(|r| r[1] == (*key as i16).to_string())
                .unwrap_or_else(|| panic!("{key:?} missing from docs/compatibility.md"));
            assert_eq!(row[2], format!("{key:?}"));
            assert!(
                row[3].starts_with(&format!("{lo}–{hi}")),
                "{key:?}: doc says {}, advertised {lo}–{hi}",
                row[3]
            );
            let cluster_only = CLUSTER_ONLY.iter().any(|(k, _, _)| k == key);
            assert_eq!(
                row[3].contains("cluster only"),
                cluster_only,
                "{key:?}: the doc says whether only a cluster serves it"
            );
        }
        assert!(!accepts(ApiKey::ReadShareGroupState, 0), "single broker");
        assert!(accepts_in(ApiKey::ReadShareGroupState, 0, true));
    }
}
