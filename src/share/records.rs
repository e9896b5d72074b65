//! The records of `__share_group_state` (design §8.2): one snapshot per share-partition, the
//! latest record of a key wins (the topic is compacted) and a null value deletes the state.
//!
//! - key: Kafka's ShareSnapshot key, `int16 0`, `string GroupId`, `uuid TopicId`, `int32
//!   Partition`, so that Kafka's tooling can at least tell whose state a record is;
//! - value: fjord's own non-flexible layout, version 0: snapshot epoch, state epoch, leader
//!   epoch, SPSO, delivery-complete count, write time, then the window's runs. Acquired runs
//!   are written as Available with their delivery count (locks do not survive a restart, as in
//!   Kafka); the other states as they are.
//!
//! Decoding is bounds-checked: a damaged record decodes to `None`, never a panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::runs::{RecordState, Run};

/// Kafka's record type of a ShareSnapshot key.
const SNAPSHOT_KEY_TYPE: i16 = 0;
const VALUE_VERSION: i16 = 0;
/// Bytes of one run in a value: two offsets, a state and a delivery count.
const RUN_BYTES: usize = 8 + 8 + 1 + 2;

/// Whose state a record is: a share group's view of one topic-partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub group: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// A persisted run: offsets `first_offset..=last_offset` in `state` (0 Available, 2
/// Acknowledged, 4 Archived) delivered `delivery_count` times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedRun {
    pub first_offset: i64,
    pub last_offset: i64,
    pub state: RecordState,
    pub delivery_count: i16,
}

/// One share-partition's state as `__share_group_state` keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedState {
    /// Writes of this key since its state epoch began.
    pub snapshot_epoch: i32,
    /// Bumped when the state is replaced as a whole (AlterShareGroupOffsets).
    pub state_epoch: i32,
    /// The topic-partition's leader epoch when written (0 on a single broker).
    pub leader_epoch: i32,
    /// The share-partition start offset (SPSO).
    pub start_offset: i64,
    pub delivery_complete_count: i32,
    pub write_timestamp_ms: i64,
    /// Contiguous from `start_offset`, ascending; the window ends where the last run ends.
    pub runs: Vec<PersistedRun>,
}

impl PersistedRun {
    /// The run as written: an Acquired run goes back to Available with its delivery count.
    pub fn from_run(run: &Run) -> Self {
        let state = match run.state {
            RecordState::Acquired { .. } => RecordState::Available,
            ref s => s.clone(),
        };
        PersistedRun {
            first_offset: run.first_offset,
            last_offset: run.last_offset,
            state,
            delivery_count: run.delivery_count,
        }
    }

    /// The run as restored: Available, Acknowledged or Archived, as written.
    pub fn to_run(&self) -> Run {
        Run {
            first_offset: self.first_offset,
            last_offset: self.last_offset,
            state: self.state.clone(),
            delivery_count: self.delivery_count,
        }
    }
}

/// A persisted state's id (`RecordState::id`) back, for the states a record may hold.
pub fn state_from_id(id: i8) -> Option<RecordState> {
    match id {
        0 => Some(RecordState::Available),
        2 => Some(RecordState::Acknowledged),
        4 => Some(RecordState::Archived),
        _ => None,
    }
}

pub fn encode_key(key: &StateKey) -> Bytes {
    let mut b = BytesMut::with_capacity(2 + 2 + key.group.len() + 16 + 4);
    b.put_i16(SNAPSHOT_KEY_TYPE);
    b.put_i16(key.group.len() as i16);
    b.put_slice(key.group.as_bytes());
    b.put_slice(key.topic_id.as_bytes());
    b.put_i32(key.partition);
    b.freeze()
}

/// Adjacent runs with the same state and delivery count are written as one (Acquired runs
/// next to Available ones of the same count merge once both are Available).
pub fn encode_value(state: &PersistedState) -> Bytes {
    let mut merged: Vec<PersistedRun> = Vec::with_capacity(state.runs.len());
    for run in &state.runs {
        match merged.last_mut() {
            Some(prev)
                if prev.state == run.state
                    && prev.delivery_count == run.delivery_count
                    && prev.last_offset + 1 == run.first_offset =>
            {
                prev.last_offset = run.last_offset;
            }
            _ => merged.push(run.clone()),
        }
    }
    let mut b = BytesMut::with_capacity(2 + 4 * 4 + 8 * 2 + 4 + merged.len() * RUN_BYTES);
    b.put_i16(VALUE_VERSION);
    b.put_i32(state.snapshot_epoch);
    b.put_i32(state.state_epoch);
    b.put_i32(state.leader_epoch);
    b.put_i64(state.start_offset);
    b.put_i32(state.delivery_complete_count);
    b.put_i64(state.write_timestamp_ms);
    b.put_i32(merged.len() as i32);
    for run in &merged {
        b.put_i64(run.first_offset);
        b.put_i64(run.last_offset);
        b.put_i8(run.state.id());
        b.put_i16(run.delivery_count);
    }
    b.freeze()
}

struct Reader(Bytes);

impl Reader {
    fn i8(&mut self) -> Option<i8> {
        (self.0.remaining() >= 1).then(|| self.0.get_i8())
    }
    fn i16(&mut self) -> Option<i16> {
        (self.0.remaining() >= 2).then(|| self.0.get_i16())
    }
    fn i32(&mut self) -> Option<i32> {
        (self.0.remaining() >= 4).then(|| self.0.get_i32())
    }
    fn i64(&mut self) -> Option<i64> {
        (self.0.remaining() >= 8).then(|| self.0.get_i64())
    }
    fn str(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        if self.0.remaining() < len {
            return None;
        }
        String::from_utf8(self.0.split_to(len).to_vec()).ok()
    }
    fn uuid(&mut self) -> Option<Uuid> {
        if self.0.remaining() < 16 {
            return None;
        }
        Uuid::from_slice(&self.0.split_to(16)).ok()
    }
}

/// `None` for a key of another record type (Kafka's ShareUpdate, 1) or a damaged one.
pub fn decode_key(key: &Bytes) -> Option<StateKey> {
    let mut r = Reader(key.clone());
    if r.i16()? != SNAPSHOT_KEY_TYPE {
        return None;
    }
    let group = r.str()?;
    let topic_id = r.uuid()?;
    let partition = r.i32()?;
    (r.0.remaining() == 0).then_some(StateKey {
        group,
        topic_id,
        partition,
    })
}

/// `None` for an unknown version or a damaged value: runs must be well formed (first ≤ last),
/// contiguous from the start offset and in a persistable state.
pub fn decode_value(value: &Bytes) -> Option<PersistedState> {
    let mut r = Reader(value.clone());
    if r.i16()? != VALUE_VERSION {
        return None;
    }
    let snapshot_epoch = r.i32()?;
    let state_epoch = r.i32()?;
    let leader_epoch = r.i32()?;
    let start_offset = r.i64()?;
    let delivery_complete_count = r.i32()?;
    let write_timestamp_ms = r.i64()?;
    let count = usize::try_from(r.i32()?).ok()?;
    if r.0.remaining() != count.checked_mul(RUN_BYTES)? || start_offset < 0 {
        return None;
    }
    let mut runs = Vec::with_capacity(count);
    let mut expect = start_offset;
    for _ in 0..count {
        let first_offset = r.i64()?;
        let last_offset = r.i64()?;
        let state = state_from_id(r.i8()?)?;
        let delivery_count = r.i16()?;
        if first_offset != expect || last_offset < first_offset || delivery_count < 0 {
            return None;
        }
        expect = last_offset.checked_add(1)?;
        runs.push(PersistedRun {
            first_offset,
            last_offset,
            state,
            delivery_count,
        });
    }
    Some(PersistedState {
        snapshot_epoch,
        state_epoch,
        leader_epoch,
        start_offset,
        delivery_complete_count,
        write_timestamp_ms,
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StateKey {
        StateKey {
            group: "queue-readers".into(),
            topic_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            partition: 7,
        }
    }

    fn run(first: i64, last: i64, state: RecordState, delivery_count: i16) -> PersistedRun {
        PersistedRun {
            first_offset: first,
            last_offset: last,
            state,
            delivery_count,
        }
    }

    fn state(runs: Vec<PersistedRun>) -> PersistedState {
        PersistedState {
            snapshot_epoch: 12,
            state_epoch: 3,
            leader_epoch: 0,
            start_offset: 100,
            delivery_complete_count: 9,
            write_timestamp_ms: 1_796_000_000_000,
            runs,
        }
    }

    #[test]
    fn key_is_kafkas_share_snapshot_key() {
        let k = encode_key(&key());
        let mut want = vec![0u8, 0, 0, 13];
        want.extend_from_slice(b"queue-readers");
        want.extend_from_slice(key().topic_id.as_bytes());
        want.extend_from_slice(&7i32.to_be_bytes());
        assert_eq!(&k[..], &want[..]);
        assert_eq!(decode_key(&k), Some(key()));
    }

    #[test]
    fn value_round_trips() {
        let s = state(vec![
            run(100, 104, RecordState::Acknowledged, 1),
            run(105, 105, RecordState::Available, 2),
            run(106, 120, RecordState::Archived, 5),
            run(121, 130, RecordState::Available, 1),
        ]);
        let v = encode_value(&s);
        assert_eq!(v.len(), 2 + 4 + 4 + 4 + 8 + 4 + 8 + 4 + 4 * RUN_BYTES);
        assert_eq!(decode_value(&v), Some(s));
        let empty = state(vec![]);
        assert_eq!(decode_value(&encode_value(&empty)), Some(empty));
    }

    #[test]
    fn acquired_runs_are_written_available_and_merged_with_their_neighbours() {
        let acquired = Run {
            first_offset: 103,
            last_offset: 109,
            state: RecordState::Acquired {
                member: "m1".into(),
                deadline_ms: 5,
            },
            delivery_count: 1,
        };
        let runs = vec![
            run(100, 102, RecordState::Available, 1),
            PersistedRun::from_run(&acquired),
            run(110, 110, RecordState::Available, 2),
        ];
        let decoded = decode_value(&encode_value(&state(runs))).unwrap();
        assert_eq!(
            decoded.runs,
            vec![
                run(100, 109, RecordState::Available, 1),
                run(110, 110, RecordState::Available, 2)
            ]
        );
    }

    #[test]
    fn damaged_or_foreign_records_are_refused() {
        // Kafka's ShareUpdate key type
        let mut update = BytesMut::from(&encode_key(&key())[..]);
        update[1] = 1;
        assert_eq!(decode_key(&update.freeze()), None);
        let k = encode_key(&key());
        for cut in 0..k.len() {
            assert_eq!(decode_key(&k.slice(..cut)), None, "key cut at {cut}");
        }
        let good = encode_value(&state(vec![
            run(100, 104, RecordState::Acknowledged, 1),
            run(105, 110, RecordState::Available, 2),
        ]));
        for cut in 0..good.len() {
            assert_eq!(decode_value(&good.slice(..cut)), None, "value cut at {cut}");
        }
        let mut longer = BytesMut::from(&good[..]);
        longer.put_u8(0);
        assert_eq!(decode_value(&longer.freeze()), None);
        // byte offsets: 34 = the run count, 38 = the first run
        let patch = |at: usize, bytes: &[u8]| {
            let mut b = BytesMut::from(&good[..]);
            b[at..at + bytes.len()].copy_from_slice(bytes);
            decode_value(&b.freeze())
        };
        assert_eq!(patch(0, &1i16.to_be_bytes()), None, "unknown version");
        assert_eq!(
            patch(34, &i32::MAX.to_be_bytes()),
            None,
            "run count past the end"
        );
        assert_eq!(
            patch(34, &(-1i32).to_be_bytes()),
            None,
            "negative run count"
        );
        assert_eq!(
            patch(38, &99i64.to_be_bytes()),
            None,
            "first run not at SPSO"
        );
        assert_eq!(patch(38 + 16, &[1]), None, "Acquired is never persisted");
        assert_eq!(patch(38 + 16, &[3]), None, "unknown state");
        assert_eq!(
            patch(38 + 8, &90i64.to_be_bytes()),
            None,
            "last before first"
        );
        assert_eq!(
            patch(38 + 17, &(-1i16).to_be_bytes()),
            None,
            "negative count"
        );
        assert_eq!(
            patch(38 + RUN_BYTES, &106i64.to_be_bytes()),
            None,
            "a hole between runs"
        );
        assert!(
            patch(38 + 17, &4i16.to_be_bytes()).is_some(),
            "the patch helper patches"
        );
    }
}
