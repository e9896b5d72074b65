//! The records of `__consumer_offsets`, in Kafka's own formats so that Kafka
//! tooling reading the topic understands them:
//!
//! - offset commit: key v1 `(group, topic, partition)`, value v3
//!   `(offset, leader_epoch, metadata, commit_timestamp)`;
//! - group metadata: key v2 `(group)`, value v3 `(protocol_type, generation,
//!   protocol, leader, current_state_timestamp, members)` — members are written
//!   empty: after a restart members rejoin (their connections broke anyway);
//! - share group metadata (KIP-932, `ShareGroupMetadata`): key `(11, group)`, value v0 in the
//!   flexible encoding `(epoch, metadata_hash, no tagged fields)`; fjord writes hash 0 (it
//!   notices partition-count changes itself) and reads only the epoch;
//! - a null value is a tombstone.
//!
//! Other key types (Kafka's consumer- and share-group member, assignment and partition
//! metadata records, 3–10 and 12–15) are skipped on replay, so a `__consumer_offsets` Kafka
//! wrote still loads.
//!
//! Decoding is bounds-checked: a damaged record is skipped, never a panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::classic::ClassicGroup;

/// A partition's committed offset, as OffsetCommit sends it and an offset-commit record of
/// `__consumer_offsets` stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Metadata {
        group: String,
    },
    ShareMetadata {
        group: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRecord {
    Offset(CommittedOffset),
    Metadata {
        protocol_type: String,
        generation_id: i32,
    },
    ShareMetadata {
        epoch: i32,
    },
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

pub fn encode_offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(1);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

pub fn encode_offset_value(o: &CommittedOffset) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    b.put_i64(o.offset);
    b.put_i32(o.leader_epoch);
    put_str(&mut b, &o.metadata);
    b.put_i64(o.commit_timestamp_ms);
    b.freeze()
}

pub fn encode_group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(2);
    put_str(&mut b, group);
    b.freeze()
}

pub fn encode_group_value(g: &ClassicGroup) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(3);
    put_str(&mut b, g.protocol_type.as_deref().unwrap_or(""));
    b.put_i32(g.generation_id);
    put_nullable_str(&mut b, g.protocol_name.as_deref());
    put_nullable_str(&mut b, g.leader.as_deref());
    b.put_i64(g.state_since_ms);
    b.put_i32(0); // members
    b.freeze()
}

/// The key of a share group's `ShareGroupMetadata` record.
pub fn encode_share_group_key(group: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(11);
    put_str(&mut b, group);
    b.freeze()
}

/// A share group's `ShareGroupMetadata` value (v0, flexible: no tagged fields).
pub fn encode_share_group_value(epoch: i32) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(epoch);
    b.put_i64(0); // MetadataHash
    b.put_u8(0); // tagged fields: none
    b.freeze()
}

struct Reader(Bytes);

impl Reader {
    fn i16(&mut self) -> Option<i16> {
        (self.0.remaining() >= 2).then(|| self.0.get_i16())
    }
    fn i32(&mut self) -> Option<i32> {
        (self.0.remaining() >= 4).then(|| self.0.get_i32())
    }
    fn i64(&mut self) -> Option<i64> {
        (self.0.remaining() >= 8).then(|| self.0.get_i64())
    }
    fn nullable_str(&mut self) -> Option<Option<String>> {
        let len = self.i16()?;
        if len < 0 {
            return Some(None);
        }
        let len = len as usize;
        if self.0.remaining() < len {
            return None;
        }
        let s = self.0.split_to(len);
        Some(Some(String::from_utf8(s.to_vec()).ok()?))
    }
    fn str(&mut self) -> Option<String> {
        self.nullable_str()?
    }
}

pub fn decode_key(key: &Bytes) -> Option<GroupKey> {
    let mut r = Reader(key.clone());
    match r.i16()? {
        0 | 1 => Some(GroupKey::Offset {
            group: r.str()?,
            topic: r.str()?,
            partition: r.i32()?,
        }),
        2 => Some(GroupKey::Metadata { group: r.str()? }),
        // Keys are never flexible: an int16-length string here too.
        11 => Some(GroupKey::ShareMetadata { group: r.str()? }),
        _ => None,
    }
}

pub fn decode_value(key: &GroupKey, value: &Bytes) -> Option<GroupRecord> {
    let mut r = Reader(value.clone());
    let version = r.i16()?;
    match key {
        GroupKey::Offset { .. } => {
            let offset = r.i64()?;
            let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
            let metadata = r.str()?;
            let commit_timestamp_ms = r.i64()?;
            Some(GroupRecord::Offset(CommittedOffset {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp_ms,
            }))
        }
        GroupKey::ShareMetadata { .. } => Some(GroupRecord::ShareMetadata { epoch: r.i32()? }),
        GroupKey::Metadata { .. } => {
            let protocol_type = r.str()?;
            let generation_id = r.i32()?;
            Some(GroupRecord::Metadata {
                protocol_type,
                generation_id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_records_round_trip() {
        let o = CommittedOffset {
            offset: 42,
            leader_epoch: 3,
            metadata: "m".into(),
            commit_timestamp_ms: 1_700_000_000_000,
        };
        let k = encode_offset_key("g", "t", 7);
        let key = decode_key(&k).unwrap();
        assert_eq!(
            key,
            GroupKey::Offset {
                group: "g".into(),
                topic: "t".into(),
                partition: 7
            }
        );
        assert_eq!(
            decode_value(&key, &encode_offset_value(&o)),
            Some(GroupRecord::Offset(o))
        );
    }

    #[test]
    fn group_records_round_trip() {
        let mut g = ClassicGroup::new("g", Default::default(), 5);
        g.generation_id = 9;
        g.protocol_type = Some("consumer".into());
        let key = decode_key(&encode_group_key("g")).unwrap();
        assert_eq!(key, GroupKey::Metadata { group: "g".into() });
        assert_eq!(
            decode_value(&key, &encode_group_value(&g)),
            Some(GroupRecord::Metadata {
                protocol_type: "consumer".into(),
                generation_id: 9
            })
        );
    }

    #[test]
    fn share_group_records_round_trip() {
        let key = decode_key(&encode_share_group_key("sg")).unwrap();
        assert_eq!(key, GroupKey::ShareMetadata { group: "sg".into() });
        let value = encode_share_group_value(7);
        assert_eq!(&value[..], b"\x00\x00\x00\x00\x00\x07\0\0\0\0\0\0\0\0\0");
        assert_eq!(
            decode_value(&key, &value),
            Some(GroupRecord::ShareMetadata { epoch: 7 })
        );
        assert_eq!(
            decode_value(&key, &Bytes::from_static(b"\x00\x00\x00")),
            None
        );
    }

    #[test]
    fn damaged_records_are_skipped() {
        assert_eq!(decode_key(&Bytes::from_static(b"\x00")), None);
        assert_eq!(decode_key(&Bytes::from_static(b"\x00\x01\x00\x09ab")), None);
        assert_eq!(decode_key(&Bytes::from_static(b"\x00\x07")), None);
        let key = GroupKey::Metadata { group: "g".into() };
        assert_eq!(
            decode_value(&key, &Bytes::from_static(b"\x00\x03\x7f\xff")),
            None
        );
    }
}
