//! Reading the consumer protocol's embedded metadata (ConsumerProtocolSubscription /
//! ConsumerProtocolAssignment), which the classic group protocol carries as
//! opaque bytes. Needed only where Kafka looks inside: OffsetDelete refuses to
//! delete offsets of a topic the group still subscribes to, and DescribeGroups
//! tooling reads assignments. Malformed bytes yield nothing, never a panic.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::{Decodable, Message};

fn versioned<T: Decodable + Message>(data: &Bytes) -> Option<T> {
    let mut b = data.clone();
    if b.remaining() < 2 {
        return None;
    }
    let version = b.get_i16().clamp(T::VERSIONS.min, T::VERSIONS.max);
    T::decode(&mut b, version).ok()
}

/// Topics of a ConsumerProtocolSubscription (empty if it is not one).
pub fn subscription_topics(metadata: &Bytes) -> Vec<String> {
    versioned::<ConsumerProtocolSubscription>(metadata)
        .map(|s| s.topics.iter().map(|t| t.as_str().to_string()).collect())
        .unwrap_or_default()
}

/// (topic, partitions) of a ConsumerProtocolAssignment (empty if it is not one).
pub fn assignment_partitions(assignment: &Bytes) -> Vec<(String, Vec<i32>)> {
    versioned::<ConsumerProtocolAssignment>(assignment)
        .map(|a| {
            a.assigned_partitions
                .iter()
                .map(|tp| (tp.topic.as_str().to_string(), tp.partitions.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    #[test]
    fn reads_subscription_topics_and_ignores_garbage() {
        let sub = ConsumerProtocolSubscription::default().with_topics(vec![
            StrBytes::from_static_str("a"),
            StrBytes::from_static_str("b"),
        ]);
        for version in 0..=3i16 {
            let mut buf = BytesMut::new();
            buf.put_i16(version);
            sub.encode(&mut buf, version).unwrap();
            assert_eq!(subscription_topics(&buf.freeze()), vec!["a", "b"]);
        }
        assert!(subscription_topics(&Bytes::from_static(b"\x00")).is_empty());
        assert!(subscription_topics(&Bytes::from_static(b"\x00\x00\xff\xff\xff")).is_empty());
    }
}
