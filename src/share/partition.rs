//! One share-partition's state machine (KIP-932; Kafka `SharePartition`; design §6): the
//! share-partition start offset (SPSO), the next offset to read (Kafka's SPEO + 1), and the
//! in-flight window `[SPSO, next)` with each offset's state, delivery count and lock.
//!
//! Owns acquisition (redelivery first, then new batches from a [`BatchSource`]; batch-optimized
//! or, KIP-1206, strictly within `MaxRecords`), acknowledgement (ACCEPT / RELEASE / REJECT / GAP,
//! and RENEW of a lock, KIP-1222, with Kafka's error codes), lock expiry, the delivery-count
//! limit, the `group.share.partition.max.record.locks` bound, the release of a member's records
//! when its share session ends, and SPSO advancement.
//!
//! Pure and synchronous: every entry point takes `now_ms` and the effective [`ShareSettings`];
//! time moves only through the `now_ms` it is handed. It never does I/O, never reads a config
//! store or a clock, never persists (the manager does that around it), and never panics on what
//! a client sends: bad acknowledgements are errors and change nothing.

use super::runs::{RecordState, Run, Runs};
use crate::error::KafkaError;

/// The effective share settings for one call, resolved by the caller from the group's configs
/// and the broker's keys (design §9.4, §10); defaults are Kafka's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareSettings {
    /// `share.record.lock.duration.ms` / `group.share.record.lock.duration.ms`.
    pub record_lock_duration_ms: i64,
    /// `group.share.delivery.count.limit`.
    pub delivery_count_limit: i16,
    /// `group.share.partition.max.record.locks`: the most offsets the window may span before
    /// new records are acquired.
    pub max_record_locks: i64,
    /// The group's `share.renew.acknowledge.enable` (KIP-1240): RENEW is refused when false.
    pub renew_enabled: bool,
}

impl Default for ShareSettings {
    fn default() -> Self {
        ShareSettings {
            record_lock_duration_ms: 30_000,
            delivery_count_limit: 5,
            max_record_locks: 2_000,
            renew_enabled: true,
        }
    }
}

/// What the state machine needs to know about one log batch: its offsets, and whether it may be
/// handed out at all. Under read_uncommitted, control batches and batches with offsets missing
/// (compaction) are acquired whole like any other; the client acknowledges what it does not hand
/// out as GAP (KIP-932).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub is_control: bool,
    /// Never handed out: its offsets are Archived when read (read_committed: a batch of an
    /// aborted transaction, or a transaction marker; design §6.11).
    pub archive: bool,
}

/// Where new records come from: the partition's log, read in whole batches. The partition read
/// implements it (design §7.6); tests use a fake.
pub trait BatchSource {
    /// The partition's log start offset.
    fn log_start_offset(&self) -> i64;

    /// Whole batches holding or following `offset`, ascending, up to the read bound (the high
    /// watermark, or the LSO under read_committed), about `max_bytes` of them but at least one
    /// when there is one, and no more batches once those read hold `max_records` offsets to hand
    /// out (batches to archive count none) from `offset` on (the fetch could not take more:
    /// reading their headers would be waste). An empty list means nothing to read.
    fn read_batches(
        &mut self,
        offset: i64,
        max_bytes: i32,
        max_records: i64,
    ) -> Result<Vec<BatchInfo>, KafkaError>;
}

/// One `AcquiredRecords` entry of a ShareFetch answer: a contiguous range with one delivery
/// count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcquiredRecords {
    pub first_offset: i64,
    pub last_offset: i64,
    pub delivery_count: i16,
}

/// Kafka's acknowledge types (`AcknowledgeType`). RENEW (KIP-1222) is valid only in a v2
/// request that sets `IsRenewAck`; the API layer checks that (it knows the version), this
/// module applies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcknowledgeType {
    Gap = 0,
    Accept = 1,
    Release = 2,
    Reject = 3,
    Renew = 4,
}

impl AcknowledgeType {
    pub fn from_i8(value: i8) -> Option<Self> {
        match value {
            0 => Some(AcknowledgeType::Gap),
            1 => Some(AcknowledgeType::Accept),
            2 => Some(AcknowledgeType::Release),
            3 => Some(AcknowledgeType::Reject),
            4 => Some(AcknowledgeType::Renew),
            _ => None,
        }
    }
}

/// One `AcknowledgementBatches` entry as the client sent it: `types` has one entry for the whole
/// range or one per offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcknowledgementBatch {
    pub first_offset: i64,
    pub last_offset: i64,
    pub acknowledge_types: Vec<i8>,
}

impl AcknowledgementBatch {
    /// Whether any offset of the batch is acknowledged with RENEW (4).
    pub fn renews(&self) -> bool {
        self.acknowledge_types
            .contains(&(AcknowledgeType::Renew as i8))
    }

    /// Whether every offset of the batch is acknowledged with RENEW (4).
    pub fn only_renews(&self) -> bool {
        self.acknowledge_types
            .iter()
            .all(|&t| t == AcknowledgeType::Renew as i8)
    }
}

/// Limits of one acquisition (from the ShareFetch request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcquireLimits {
    /// `MaxRecords`: batch-optimized acquisition may overshoot it to the end of a batch;
    /// under `record_limit` it is never exceeded.
    pub max_records: i64,
    /// `ShareAcquireMode` 1, record-limit (KIP-1206, ShareFetch v2): a new batch is cut after
    /// the `max_records`-th offset; the rest of it stays beyond `next` for the next fetch.
    pub record_limit: bool,
    /// `MaxBytes`, handed to the batch source.
    pub max_bytes: i32,
    /// The group's `share.isolation.level` is read_committed: new batches are read up to the
    /// last stable offset, and aborted transactions' batches and markers are archived (design
    /// §6.11). Only the batch source looks at it.
    pub read_committed: bool,
}

/// One share-partition (group, topic id, partition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharePartition {
    /// SPSO: every offset below is done.
    start_offset: i64,
    /// The first offset never read into the window.
    next_offset: i64,
    /// The highest log start offset seen; Available offsets below it are Archived.
    log_start_offset: i64,
    runs: Runs,
}

impl SharePartition {
    /// An empty share-partition starting at `start_offset` (the SPSO resolved from
    /// `share.auto.offset.reset`, or a restored one).
    pub fn new(start_offset: i64) -> Self {
        let start_offset = start_offset.max(0);
        SharePartition {
            start_offset,
            next_offset: start_offset,
            log_start_offset: 0,
            runs: Runs::new(),
        }
    }

    /// A share-partition as it was persisted (design §8.4): SPSO and the window's runs, which
    /// must follow on from SPSO without gaps; `next` is the end of the last run. A run that
    /// does not follow on, or is Acquired (never persisted), ends the window there: the offsets
    /// after it are read from the log again. Leading terminal runs move SPSO past them.
    pub fn restore(start_offset: i64, runs: impl IntoIterator<Item = Run>) -> Self {
        let mut sp = SharePartition::new(start_offset);
        for run in runs {
            if run.state.member().is_some()
                || run.first_offset != sp.next_offset
                || run.delivery_count < 0
            {
                break;
            }
            let last = run.last_offset;
            if !sp.runs.push_back(run) {
                break;
            }
            sp.next_offset = last.saturating_add(1);
        }
        sp.finish();
        sp
    }

    /// SPSO.
    pub fn start_offset(&self) -> i64 {
        self.start_offset
    }

    /// Kafka's SPEO: the last offset read into the window (SPSO − 1 while nothing is in flight).
    pub fn end_offset(&self) -> i64 {
        self.next_offset - 1
    }

    /// The first offset never read into the window (SPEO + 1).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Offsets in the window, terminal ones included, as Kafka counts them against
    /// `group.share.partition.max.record.locks`.
    pub fn in_flight(&self) -> i64 {
        self.next_offset - self.start_offset
    }

    /// The window's runs in offset order.
    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter()
    }

    /// Terminal (Acknowledged or Archived) offsets in the window, for the lag of KIP-1226.
    pub fn delivery_complete_count(&self) -> i64 {
        self.runs
            .iter()
            .filter(|r| r.state.is_terminal())
            .map(Run::len)
            .sum()
    }

    /// The earliest lock deadline, for a ticker that sleeps until it.
    pub fn earliest_deadline(&self) -> Option<i64> {
        self.runs
            .iter()
            .filter_map(|r| match r.state {
                RecordState::Acquired { deadline_ms, .. } => Some(deadline_ms),
                _ => None,
            })
            .min()
    }

    /// The state and delivery count of one offset in the window.
    pub fn state_of(&self, offset: i64) -> Option<(&RecordState, i16)> {
        self.runs
            .overlapping(offset, offset)
            .next()
            .map(|r| (&r.state, r.delivery_count))
    }

    /// Acquires records for `member` (design §6.5 steps 2–5): Available offsets of the window
    /// first (up to `max_records`, splitting the last run), then new whole batches from `next`
    /// while the window has room (the last batch cut at the window limit, or under
    /// `record_limit` at `max_records`, design §7.8). Returns the acquired
    /// ranges in offset order. Locks due at `now_ms` expire and the source's log start is applied
    /// first; a read error then acquires nothing.
    pub fn acquire(
        &mut self,
        member: &str,
        now_ms: i64,
        limits: AcquireLimits,
        settings: &ShareSettings,
        source: &mut dyn BatchSource,
    ) -> Result<Vec<AcquiredRecords>, KafkaError> {
        self.expire_locks(now_ms, settings);
        self.move_log_start(source.log_start_offset());
        if limits.max_records <= 0 {
            return Ok(Vec::new());
        }

        // Plan the redelivery without changing anything, so a failing read leaves no trace.
        let mut redeliver: Vec<(i64, i64)> = Vec::new();
        let mut remaining = limits.max_records;
        for run in self.runs.iter() {
            if remaining <= 0 {
                break;
            }
            if run.state == RecordState::Available {
                let take = run.len().min(remaining);
                redeliver.push((run.first_offset, run.first_offset + take - 1));
                remaining -= take;
            }
        }
        let room = settings.max_record_locks - self.in_flight();
        let batches = if remaining > 0 && room > 0 {
            source.read_batches(self.next_offset, limits.max_bytes, remaining.min(room))?
        } else {
            Vec::new()
        };

        let deadline_ms = now_ms.saturating_add(settings.record_lock_duration_ms);
        let acquired = RecordState::Acquired {
            member: member.to_string(),
            deadline_ms,
        };
        for &(first, last) in &redeliver {
            self.runs.update(first, last, |run| {
                run.state = acquired.clone();
                run.delivery_count = run.delivery_count.saturating_add(1);
            });
        }
        let first_new = self.next_offset;
        'batches: for batch in batches {
            if remaining <= 0 {
                break;
            }
            if batch.last_offset < self.next_offset || batch.last_offset < batch.base_offset {
                continue;
            }
            let room = self.start_offset + settings.max_record_locks - self.next_offset;
            if room > 0 && batch.base_offset > self.next_offset {
                // Offsets between `next` and the batch are in no batch (removed by compaction
                // or retention): nothing to deliver, so they are done.
                let last = (batch.base_offset - 1).min(self.next_offset + room - 1);
                self.push_new(last, RecordState::Archived, 0);
            }
            if batch.archive {
                // Never handed out: done at once, and SPSO moves over it now (when nothing
                // before it is in flight) so it takes no room from the batches after it.
                while self.next_offset <= batch.last_offset {
                    let room = self.start_offset + settings.max_record_locks - self.next_offset;
                    if room <= 0 {
                        break 'batches;
                    }
                    let last = batch.last_offset.min(self.next_offset + room - 1);
                    let before = self.next_offset;
                    self.push_new(last, RecordState::Archived, 0);
                    if self.next_offset == before {
                        break 'batches;
                    }
                    self.finish();
                }
                continue;
            }
            let room = self.start_offset + settings.max_record_locks - self.next_offset;
            if room <= 0 {
                break;
            }
            let mut last = batch.last_offset.min(self.next_offset + room - 1);
            if limits.record_limit {
                last = last.min(self.next_offset + remaining - 1);
            }
            remaining -= last - self.next_offset + 1;
            self.push_new(last, acquired.clone(), 1);
        }
        self.finish();

        let mut out: Vec<AcquiredRecords> = Vec::new();
        let ranges = redeliver
            .into_iter()
            .chain((self.next_offset > first_new).then_some((first_new, self.next_offset - 1)));
        for (first, last) in ranges {
            for run in self.runs.overlapping(first, last) {
                if run.state.member() != Some(member) {
                    continue;
                }
                let (a, b) = (run.first_offset.max(first), run.last_offset.min(last));
                match out.last_mut() {
                    Some(prev)
                        if prev.last_offset + 1 == a
                            && prev.delivery_count == run.delivery_count =>
                    {
                        prev.last_offset = b
                    }
                    _ => out.push(AcquiredRecords {
                        first_offset: a,
                        last_offset: b,
                        delivery_count: run.delivery_count,
                    }),
                }
            }
        }
        Ok(out)
    }

    fn push_new(&mut self, last: i64, state: RecordState, delivery_count: i16) {
        let run = Run {
            first_offset: self.next_offset,
            last_offset: last,
            state,
            delivery_count,
        };
        if self.runs.push_back(run) {
            self.next_offset = last.saturating_add(1);
        }
    }

    /// Applies a partition's acknowledgements from `member` (design §6.6), all or nothing:
    /// INVALID_REQUEST for a malformed list (`first > last`, unknown type, wrong number of
    /// types, ranges overlapping or not ascending), INVALID_RECORD_STATE when an offset at or
    /// above SPSO is beyond the window or not Acquired by `member`. Offsets below SPSO are
    /// already done and skipped. RENEW (KIP-1222, design §7.8) restarts the lock of offsets the
    /// member holds (deadline `now_ms` + the lock duration), keeping state and delivery count. Locks due at `now_ms` expire first, so a late acknowledgement
    /// of an expired lock fails as it does in Kafka once the lock timer has run.
    pub fn acknowledge(
        &mut self,
        member: &str,
        batches: &[AcknowledgementBatch],
        now_ms: i64,
        settings: &ShareSettings,
    ) -> Result<(), KafkaError> {
        self.expire_locks(now_ms, settings);
        validate_batches(batches)?;
        // Kafka 4.3 refuses the whole partition's acknowledgement (its integration test sees
        // InvalidRecordStateException on commitSync).
        if !settings.renew_enabled && batches.iter().any(AcknowledgementBatch::renews) {
            return Err(KafkaError::InvalidRecordState);
        }
        for batch in batches {
            let first = batch.first_offset.max(self.start_offset);
            if first > batch.last_offset {
                continue;
            }
            if batch.last_offset >= self.next_offset {
                return Err(KafkaError::InvalidRecordState);
            }
            let held = self
                .runs
                .overlapping(first, batch.last_offset)
                .all(|r| r.state.member() == Some(member));
            if !held {
                return Err(KafkaError::InvalidRecordState);
            }
        }
        for batch in batches {
            if let [t] = batch.acknowledge_types[..] {
                self.apply(batch.first_offset, batch.last_offset, t, now_ms, settings);
                continue;
            }
            // One type per offset: apply runs of equal types.
            let mut start = batch.first_offset;
            let types = &batch.acknowledge_types;
            for i in 1..=types.len() {
                if i == types.len() || types[i] != types[i - 1] {
                    let last = batch.first_offset + i as i64 - 1;
                    self.apply(start, last, types[i - 1], now_ms, settings);
                    start = last + 1;
                }
            }
        }
        self.finish();
        Ok(())
    }

    /// One validated acknowledgement of `first..=last` (offsets below SPSO untouched).
    fn apply(&mut self, first: i64, last: i64, ack: i8, now_ms: i64, settings: &ShareSettings) {
        let first = first.max(self.start_offset);
        let Some(ack) = AcknowledgeType::from_i8(ack) else {
            return;
        };
        let limit = settings.delivery_count_limit;
        let renewed_deadline = now_ms.saturating_add(settings.record_lock_duration_ms);
        self.runs.update(first, last, |run| {
            run.state = match (ack, &run.state) {
                // Validated: every offset is Acquired by the acknowledging member.
                (AcknowledgeType::Renew, RecordState::Acquired { member, .. }) => {
                    RecordState::Acquired {
                        member: member.clone(),
                        deadline_ms: renewed_deadline,
                    }
                }
                (AcknowledgeType::Renew, state) => state.clone(),
                (AcknowledgeType::Accept, _) => RecordState::Acknowledged,
                (AcknowledgeType::Reject | AcknowledgeType::Gap, _) => RecordState::Archived,
                (AcknowledgeType::Release, _) if run.delivery_count >= limit => {
                    RecordState::Archived
                }
                (AcknowledgeType::Release, _) => RecordState::Available,
            };
        });
    }

    /// Acquired offsets whose lock deadline is at or before `now_ms` become Available (delivery
    /// count kept), or Archived at the delivery limit (design §6.9). Returns how many offsets
    /// expired.
    pub fn expire_locks(&mut self, now_ms: i64, settings: &ShareSettings) -> i64 {
        let due: Vec<(i64, i64)> = self
            .runs
            .iter()
            .filter(|r| matches!(r.state, RecordState::Acquired { deadline_ms, .. } if deadline_ms <= now_ms))
            .map(|r| (r.first_offset, r.last_offset))
            .collect();
        let limit = settings.delivery_count_limit;
        let mut expired = 0;
        for (first, last) in due {
            expired += last - first + 1;
            self.runs.update(first, last, |run| {
                run.state = if run.delivery_count >= limit {
                    RecordState::Archived
                } else {
                    RecordState::Available
                };
            });
        }
        self.finish();
        expired
    }

    /// The member's share session ended (final epoch, connection closed, evicted): every offset
    /// it holds becomes Available with its delivery count decremented, never Archived (Kafka 4.2
    /// `DeliveryCountOps.DECREASE`: fetched but not delivered; design §6.4, §15 q2). Returns how
    /// many offsets were released.
    pub fn release_member(&mut self, member: &str) -> i64 {
        let held: Vec<(i64, i64)> = self
            .runs
            .iter()
            .filter(|r| r.state.member() == Some(member))
            .map(|r| (r.first_offset, r.last_offset))
            .collect();
        let mut released = 0;
        for (first, last) in held {
            released += last - first + 1;
            self.runs.update(first, last, |run| {
                run.state = RecordState::Available;
                run.delivery_count = run.delivery_count.saturating_sub(1).max(0);
            });
        }
        self.finish();
        released
    }

    /// The log start offset moved to `log_start` (retention, DeleteRecords; design §6.8):
    /// Available offsets below it are Archived and SPSO follows; Acquired ones stay until
    /// acknowledged or expired (see [`Self::finish`]).
    pub fn move_log_start(&mut self, log_start: i64) {
        if log_start > self.log_start_offset {
            self.log_start_offset = log_start;
            self.finish();
        }
    }

    /// After every transition: Available offsets below the log start are Archived, then SPSO
    /// moves over the leading terminal runs (design §6.7); an empty window starts at `next`, or
    /// at the log start when `next` is below it.
    fn finish(&mut self) {
        let below = self.log_start_offset - 1;
        let available_below: Vec<(i64, i64)> = self
            .runs
            .overlapping(i64::MIN, below)
            .filter(|r| r.state == RecordState::Available)
            .map(|r| (r.first_offset, r.last_offset.min(below)))
            .collect();
        for (first, last) in available_below {
            self.runs
                .update(first, last, |run| run.state = RecordState::Archived);
        }
        while let Some(front) = self.runs.front() {
            if !front.state.is_terminal() {
                break;
            }
            let end = front.last_offset + 1;
            self.runs.pop_front();
            self.start_offset = end;
        }
        if self.runs.is_empty() {
            self.next_offset = self.next_offset.max(self.log_start_offset);
            self.start_offset = self.next_offset;
        }
    }

    /// The invariants of design §6.10, for tests and debugging, under the settings the
    /// share-partition was driven with throughout: after a group lowers its delivery limit or
    /// record locks (KIP-1240) the window and delivery counts may exceed the new values for a
    /// while, as Kafka allows.
    pub fn check_invariants(&self, settings: &ShareSettings) -> Result<(), String> {
        self.runs.check()?;
        if self.start_offset > self.next_offset {
            return Err(format!(
                "SPSO {} above next {}",
                self.start_offset, self.next_offset
            ));
        }
        if self.in_flight() > settings.max_record_locks {
            return Err(format!("window of {} offsets", self.in_flight()));
        }
        match (self.runs.front(), self.runs.back()) {
            (Some(front), Some(back)) => {
                if front.first_offset != self.start_offset
                    || back.last_offset + 1 != self.next_offset
                {
                    return Err(format!(
                        "runs cover {}..={}, window is [{}, {})",
                        front.first_offset, back.last_offset, self.start_offset, self.next_offset
                    ));
                }
                if front.state.is_terminal() {
                    return Err(format!("terminal run at SPSO {}", self.start_offset));
                }
            }
            _ if self.start_offset != self.next_offset => {
                return Err("no runs but a non-empty window".to_string());
            }
            _ => {}
        }
        for run in self.runs.iter() {
            if run.delivery_count < 0 || run.delivery_count > settings.delivery_count_limit {
                return Err(format!(
                    "delivery count {} at {}",
                    run.delivery_count, run.first_offset
                ));
            }
            if run.state == RecordState::Available && run.last_offset < self.log_start_offset {
                return Err(format!(
                    "Available below the log start at {}",
                    run.first_offset
                ));
            }
            if run.state.member().is_some_and(str::is_empty) {
                return Err(format!("Acquired without a member at {}", run.first_offset));
            }
        }
        Ok(())
    }
}

/// The request-shape checks of design §6.6 (Kafka `KafkaApis.validateAcknowledgementBatches`):
/// INVALID_REQUEST before any state is looked at.
fn validate_batches(batches: &[AcknowledgementBatch]) -> Result<(), KafkaError> {
    let mut prev_last: Option<i64> = None;
    for batch in batches {
        if batch.first_offset > batch.last_offset {
            return Err(KafkaError::InvalidRequest);
        }
        if prev_last.is_some_and(|p| batch.first_offset <= p) {
            return Err(KafkaError::InvalidRequest);
        }
        prev_last = Some(batch.last_offset);
        let len = batch.last_offset as i128 - batch.first_offset as i128 + 1;
        let types = batch.acknowledge_types.len();
        if types == 0 || (types != 1 && types as i128 != len) {
            return Err(KafkaError::InvalidRequest);
        }
        if batch
            .acknowledge_types
            .iter()
            .any(|t| AcknowledgeType::from_i8(*t).is_none())
        {
            return Err(KafkaError::InvalidRequest);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    /// A persisted window comes back as it was written; leading terminal runs move SPSO; a run
    /// that is Acquired or does not follow on ends the window there.
    #[test]
    fn restore_from_persisted_runs() {
        let run = |first, last, state: RecordState, count| Run {
            first_offset: first,
            last_offset: last,
            state,
            delivery_count: count,
        };
        let sp = SharePartition::restore(
            10,
            [
                run(10, 11, RecordState::Available, 2),
                run(12, 14, RecordState::Acknowledged, 1),
                run(15, 15, RecordState::Available, 1),
            ],
        );
        assert_eq!((sp.start_offset(), sp.next_offset()), (10, 16));
        assert_eq!(sp.state_of(13), Some((&RecordState::Acknowledged, 1)));
        sp.check_invariants(&ShareSettings::default()).unwrap();

        let sp = SharePartition::restore(
            10,
            [
                run(10, 11, RecordState::Archived, 1),
                run(12, 12, RecordState::Available, 1),
                run(14, 15, RecordState::Available, 1),
            ],
        );
        assert_eq!((sp.start_offset(), sp.next_offset()), (12, 13));
        let acquired = RecordState::Acquired {
            member: "m".into(),
            deadline_ms: 0,
        };
        let sp = SharePartition::restore(5, [run(5, 9, acquired, 1)]);
        assert_eq!((sp.start_offset(), sp.next_offset()), (5, 5));
    }
    use super::*;

    const A: &str = "member-a";
    const B: &str = "member-b";

    /// A log of batches `[base, last]`; reads return whole batches from the one holding the
    /// offset, at most `max_bytes` "bytes" where every offset weighs one byte (at least one).
    struct FakeLog {
        batches: Vec<BatchInfo>,
        log_start: i64,
        fail: Option<KafkaError>,
    }

    impl FakeLog {
        /// Batches of the given sizes from offset 0.
        fn sized(sizes: &[i64]) -> Self {
            let mut batches = Vec::new();
            let mut base = 0;
            for &n in sizes {
                batches.push(BatchInfo {
                    base_offset: base,
                    last_offset: base + n - 1,
                    is_control: false,
                    archive: false,
                });
                base += n;
            }
            FakeLog {
                batches,
                log_start: 0,
                fail: None,
            }
        }
    }

    impl BatchSource for FakeLog {
        fn log_start_offset(&self) -> i64 {
            self.log_start
        }
        fn read_batches(
            &mut self,
            offset: i64,
            max_bytes: i32,
            max_records: i64,
        ) -> Result<Vec<BatchInfo>, KafkaError> {
            if let Some(e) = self.fail {
                return Err(e);
            }
            let mut out: Vec<BatchInfo> = Vec::new();
            let mut bytes = 0i64;
            // Offsets to hand out among the batches taken.
            let mut covered = 0i64;
            for b in &self.batches {
                if b.last_offset < offset || b.last_offset < self.log_start {
                    continue;
                }
                let size = b.last_offset - b.base_offset + 1;
                if !out.is_empty() && (bytes + size > max_bytes as i64 || covered >= max_records) {
                    break;
                }
                bytes += size;
                if !b.archive {
                    covered += b.last_offset - b.base_offset.max(offset) + 1;
                }
                out.push(*b);
            }
            Ok(out)
        }
    }

    fn settings() -> ShareSettings {
        ShareSettings {
            record_lock_duration_ms: 1_000,
            delivery_count_limit: 5,
            max_record_locks: 2_000,
            renew_enabled: true,
        }
    }

    fn limits(max_records: i64) -> AcquireLimits {
        AcquireLimits {
            max_records,
            max_bytes: i32::MAX,
            record_limit: false,
            read_committed: false,
        }
    }

    fn got(first: i64, last: i64, delivery_count: i16) -> AcquiredRecords {
        AcquiredRecords {
            first_offset: first,
            last_offset: last,
            delivery_count,
        }
    }

    fn ack(first: i64, last: i64, types: &[i8]) -> AcknowledgementBatch {
        AcknowledgementBatch {
            first_offset: first,
            last_offset: last,
            acknowledge_types: types.to_vec(),
        }
    }

    fn acquire(
        sp: &mut SharePartition,
        log: &mut FakeLog,
        member: &str,
        now: i64,
        n: i64,
    ) -> Vec<AcquiredRecords> {
        let r = sp
            .acquire(member, now, limits(n), &settings(), log)
            .unwrap();
        sp.check_invariants(&settings()).unwrap();
        r
    }

    fn state(sp: &SharePartition, offset: i64) -> (i8, i16) {
        let (s, c) = sp.state_of(offset).unwrap();
        (s.id(), c)
    }

    const ACCEPT: i8 = 1;
    const RELEASE: i8 = 2;
    const REJECT: i8 = 3;
    const GAP: i8 = 0;
    const RENEW: i8 = 4;

    fn record_limit(max_records: i64) -> AcquireLimits {
        AcquireLimits {
            record_limit: true,
            ..limits(max_records)
        }
    }

    fn deadline(sp: &SharePartition, offset: i64) -> Option<i64> {
        match sp.state_of(offset) {
            Some((RecordState::Acquired { deadline_ms, .. }, _)) => Some(*deadline_ms),
            _ => None,
        }
    }

    #[test]
    fn record_limit_never_exceeds_max_records_and_splits_batches() {
        // 50 records in three large batches; fetches of 7 alternate between two members.
        let mut log = FakeLog::sized(&[20, 20, 10]);
        let mut sp = SharePartition::new(0);
        let mut fetched = Vec::new();
        for i in 0..8 {
            let member = if i % 2 == 0 { A } else { B };
            let r = sp
                .acquire(member, 0, record_limit(7), &settings(), &mut log)
                .unwrap();
            sp.check_invariants(&settings()).unwrap();
            for a in &r {
                sp.acknowledge(
                    member,
                    &[ack(a.first_offset, a.last_offset, &[ACCEPT])],
                    0,
                    &settings(),
                )
                .unwrap();
            }
            fetched.push(r);
        }
        // A range across the batch boundary at 20 is one range: one delivery count.
        let want: Vec<Vec<AcquiredRecords>> = vec![
            vec![got(0, 6, 1)],
            vec![got(7, 13, 1)],
            vec![got(14, 20, 1)],
            vec![got(21, 27, 1)],
            vec![got(28, 34, 1)],
            vec![got(35, 41, 1)],
            vec![got(42, 48, 1)],
            vec![got(49, 49, 1)],
        ];
        assert_eq!(fetched, want);
        assert_eq!((sp.start_offset(), sp.next_offset()), (50, 50));
        assert!(acquire(&mut sp, &mut log, A, 0, 7).is_empty());
    }

    #[test]
    fn record_limit_leaves_the_rest_of_a_batch_for_the_next_fetch() {
        let mut log = FakeLog::sized(&[20]);
        let mut sp = SharePartition::new(0);
        let r = sp
            .acquire(A, 0, record_limit(7), &settings(), &mut log)
            .unwrap();
        assert_eq!(r, vec![got(0, 6, 1)]);
        // Only the acquired offsets entered the window; 7..=19 are still unread.
        assert_eq!((sp.start_offset(), sp.next_offset()), (0, 7));
        assert_eq!(sp.state_of(7), None);
        // Another member's fetch takes them next, whatever A does.
        let r = sp
            .acquire(B, 0, record_limit(100), &settings(), &mut log)
            .unwrap();
        assert_eq!(r, vec![got(7, 19, 1)]);
        sp.check_invariants(&settings()).unwrap();
        // Batch-optimized acquisition of the same log overshoots to the batch end.
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 7), vec![got(0, 19, 1)]);
    }

    #[test]
    fn record_limit_counts_redelivered_and_new_records_together() {
        let mut log = FakeLog::sized(&[10, 10]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 10), vec![got(0, 9, 1)]);
        sp.acknowledge(
            A,
            &[ack(0, 4, &[RELEASE]), ack(5, 9, &[ACCEPT])],
            0,
            &settings(),
        )
        .unwrap();
        let r = sp
            .acquire(B, 0, record_limit(7), &settings(), &mut log)
            .unwrap();
        assert_eq!(r, vec![got(0, 4, 2), got(10, 11, 1)]);
        assert_eq!(sp.next_offset(), 12);
        let r = sp
            .acquire(B, 0, record_limit(3), &settings(), &mut log)
            .unwrap();
        assert_eq!(r, vec![got(12, 14, 1)]);
        sp.check_invariants(&settings()).unwrap();
    }

    #[test]
    fn renew_restarts_the_lock_of_acquired_records_only() {
        let mut log = FakeLog::sized(&[10, 5]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 10), vec![got(0, 9, 1)]);
        assert_eq!(deadline(&sp, 0), Some(1_000));
        // At 800 A renews 0..=4: their lock runs to 1 800, 5..=9 keep 1 000.
        sp.acknowledge(A, &[ack(0, 4, &[RENEW])], 800, &settings())
            .unwrap();
        assert_eq!(deadline(&sp, 0), Some(1_800));
        assert_eq!(deadline(&sp, 4), Some(1_800));
        assert_eq!(deadline(&sp, 5), Some(1_000));
        assert_eq!(state(&sp, 0), (1, 1), "state and delivery count kept");
        assert_eq!(sp.expire_locks(1_000, &settings()), 5);
        assert_eq!(state(&sp, 5), (0, 1));
        assert_eq!(state(&sp, 4), (1, 1));
        // Another member cannot renew them, nor anyone renew Available, unread or terminal
        // offsets: INVALID_RECORD_STATE, nothing changes.
        let before = sp.clone();
        for (member, batches) in [
            (B, vec![ack(0, 4, &[RENEW])]),
            (A, vec![ack(5, 5, &[RENEW])]),
            (A, vec![ack(0, 4, &[RENEW]), ack(10, 10, &[RENEW])]),
        ] {
            assert_eq!(
                sp.acknowledge(member, &batches, 1_100, &settings()),
                Err(KafkaError::InvalidRecordState),
                "{member} {batches:?}"
            );
            assert_eq!(sp, before);
        }
        // Per-offset types mix RENEW with others; B takes 5..=9 and renews some of them.
        assert_eq!(acquire(&mut sp, &mut log, B, 1_100, 5), vec![got(5, 9, 2)]);
        sp.acknowledge(
            B,
            &[ack(5, 9, &[RENEW, ACCEPT, RENEW, REJECT, RELEASE])],
            1_500,
            &settings(),
        )
        .unwrap();
        assert_eq!(deadline(&sp, 5), Some(2_500));
        assert_eq!(state(&sp, 5), (1, 2));
        assert_eq!(state(&sp, 6), (2, 2));
        assert_eq!(deadline(&sp, 7), Some(2_500));
        assert_eq!(state(&sp, 8), (4, 2));
        assert_eq!(state(&sp, 9), (0, 2));
        // A renewal at the deadline is too late, as any acknowledgement is.
        assert_eq!(
            sp.acknowledge(A, &[ack(0, 4, &[RENEW])], 1_800, &settings()),
            Err(KafkaError::InvalidRecordState)
        );
        assert_eq!(state(&sp, 0), (0, 1));
        sp.check_invariants(&settings()).unwrap();
    }

    /// `share.renew.acknowledge.enable=false` (KIP-1240): a RENEW anywhere in a partition's
    /// acknowledgement refuses all of it with INVALID_RECORD_STATE and changes nothing, as
    /// Kafka 4.3's `testRenewAcknowledgementDisabled` sees it; other types still apply.
    #[test]
    fn renew_disabled_refuses_the_partitions_acknowledgement() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 10), vec![got(0, 9, 1)]);
        let off = ShareSettings {
            renew_enabled: false,
            ..settings()
        };
        let before = sp.clone();
        for batches in [
            vec![ack(0, 4, &[RENEW])],
            vec![ack(0, 1, &[ACCEPT]), ack(2, 2, &[RENEW])],
            vec![ack(0, 2, &[ACCEPT, RENEW, ACCEPT])],
        ] {
            assert_eq!(
                sp.acknowledge(A, &batches, 100, &off),
                Err(KafkaError::InvalidRecordState),
                "{batches:?}"
            );
            assert_eq!(sp, before);
        }
        sp.acknowledge(A, &[ack(0, 9, &[ACCEPT])], 100, &off)
            .unwrap();
        assert_eq!(sp.start_offset(), 10);
    }

    /// A group's delivery limit lowered while records are in flight (KIP-1240): a record already
    /// at or past the new limit is delivered once more and archived when that delivery ends.
    #[test]
    fn a_lowered_delivery_limit_allows_one_final_delivery() {
        let mut log = FakeLog::sized(&[1]);
        let mut sp = SharePartition::new(0);
        for n in 1..=3 {
            assert_eq!(acquire(&mut sp, &mut log, A, 0, 1), vec![got(0, 0, n)]);
            sp.acknowledge(A, &[ack(0, 0, &[RELEASE])], 0, &settings())
                .unwrap();
        }
        let two = ShareSettings {
            delivery_count_limit: 2,
            ..settings()
        };
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 1), vec![got(0, 0, 4)]);
        sp.acknowledge(A, &[ack(0, 0, &[RELEASE])], 0, &two)
            .unwrap();
        assert_eq!(sp.start_offset(), 1, "archived");
        assert!(acquire(&mut sp, &mut log, A, 0, 1).is_empty());
    }

    #[test]
    fn renewed_records_are_accepted_once_with_their_first_delivery_count() {
        let mut log = FakeLog::sized(&[3]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 3);
        // Held for five lock durations by renewing before each deadline; B gets nothing.
        for t in 1..=5 {
            sp.acknowledge(A, &[ack(0, 2, &[RENEW])], t * 900, &settings())
                .unwrap();
            assert!(acquire(&mut sp, &mut log, B, t * 900 + 50, 10).is_empty());
        }
        assert_eq!(sp.earliest_deadline(), Some(5_500));
        sp.acknowledge(A, &[ack(0, 2, &[ACCEPT])], 5_400, &settings())
            .unwrap();
        assert_eq!((sp.start_offset(), sp.delivery_complete_count()), (3, 0));
        assert!(acquire(&mut sp, &mut log, B, 10_000, 10).is_empty());
    }

    #[test]
    fn first_acquire_takes_whole_batches_and_overshoots_to_the_batch_end() {
        let mut log = FakeLog::sized(&[10, 10, 10]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 15), vec![got(0, 19, 1)]);
        assert_eq!(
            (sp.start_offset(), sp.next_offset(), sp.end_offset()),
            (0, 20, 19)
        );
        assert_eq!(state(&sp, 5), (1, 1));
        assert_eq!(sp.earliest_deadline(), Some(1_000));
        // The next member gets the rest.
        assert_eq!(acquire(&mut sp, &mut log, B, 0, 100), vec![got(20, 29, 1)]);
        assert_eq!(acquire(&mut sp, &mut log, B, 0, 100), vec![]);
    }

    #[test]
    fn acquire_starts_inside_a_batch_at_spso_and_respects_max_bytes() {
        let mut log = FakeLog::sized(&[10, 10, 10]);
        let mut sp = SharePartition::new(5);
        let r = sp
            .acquire(
                A,
                0,
                AcquireLimits {
                    max_records: 100,
                    max_bytes: 12,
                    record_limit: false,
                    read_committed: false,
                },
                &settings(),
                &mut log,
            )
            .unwrap();
        // The first batch is whole in the read but offsets below SPSO are not acquired.
        assert_eq!(r, vec![got(5, 9, 1)]);
    }

    #[test]
    fn zero_max_records_acquires_nothing() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 0), vec![]);
        assert_eq!(sp.next_offset(), 0);
    }

    #[test]
    fn window_limit_stops_new_acquisition_and_cuts_a_batch() {
        let mut log = FakeLog::sized(&[150, 150]);
        let mut sp = SharePartition::new(0);
        let s = ShareSettings {
            max_record_locks: 200,
            ..settings()
        };
        let r = sp.acquire(A, 0, limits(500), &s, &mut log).unwrap();
        assert_eq!(r, vec![got(0, 199, 1)]);
        assert_eq!(sp.in_flight(), 200);
        assert_eq!(sp.acquire(B, 0, limits(500), &s, &mut log).unwrap(), vec![]);
        // Accepting offsets in the middle frees nothing: the window counts terminal offsets.
        sp.acknowledge(A, &[ack(100, 199, &[ACCEPT])], 0, &s)
            .unwrap();
        assert_eq!(sp.acquire(B, 0, limits(500), &s, &mut log).unwrap(), vec![]);
        // Accepting the front moves SPSO and makes room.
        sp.acknowledge(A, &[ack(0, 49, &[ACCEPT])], 0, &s).unwrap();
        assert_eq!(sp.start_offset(), 50);
        assert_eq!(
            sp.acquire(B, 0, limits(500), &s, &mut log).unwrap(),
            vec![got(200, 249, 1)]
        );
        sp.check_invariants(&s).unwrap();
    }

    #[test]
    fn redelivery_comes_before_new_records_and_splits_at_max_records() {
        let mut log = FakeLog::sized(&[10, 10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        sp.acknowledge(A, &[ack(0, 9, &[RELEASE])], 0, &settings())
            .unwrap();
        assert_eq!(state(&sp, 0), (0, 1));
        assert_eq!(acquire(&mut sp, &mut log, B, 0, 4), vec![got(0, 3, 2)]);
        // Redelivered and new records in one fetch: separate ranges by delivery count.
        assert_eq!(
            acquire(&mut sp, &mut log, B, 0, 8),
            vec![got(4, 9, 2), got(10, 19, 1)]
        );
    }

    #[test]
    fn acquired_and_terminal_records_are_skipped() {
        let mut log = FakeLog::sized(&[10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 20);
        sp.acknowledge(
            A,
            &[
                ack(0, 4, &[RELEASE]),
                ack(5, 9, &[REJECT]),
                ack(10, 12, &[ACCEPT]),
                ack(13, 14, &[RELEASE]),
            ],
            0,
            &settings(),
        )
        .unwrap();
        assert_eq!(sp.start_offset(), 0);
        assert_eq!(
            acquire(&mut sp, &mut log, B, 0, 100),
            vec![got(0, 4, 2), got(13, 14, 2)]
        );
    }

    #[test]
    fn control_batches_are_acquired_like_records() {
        let mut log = FakeLog::sized(&[5]);
        log.batches.push(BatchInfo {
            base_offset: 5,
            last_offset: 5,
            is_control: true,
            archive: false,
        });
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 100), vec![got(0, 5, 1)]);
        sp.acknowledge(
            A,
            &[ack(0, 5, &[ACCEPT, ACCEPT, ACCEPT, ACCEPT, ACCEPT, GAP])],
            0,
            &settings(),
        )
        .unwrap();
        assert_eq!(sp.start_offset(), 6);
    }

    /// A log of `(first, last, archive)` batches, contiguous from the first.
    fn marked(batches: &[(i64, i64, bool)]) -> FakeLog {
        FakeLog {
            batches: batches
                .iter()
                .map(|&(base_offset, last_offset, archive)| BatchInfo {
                    base_offset,
                    last_offset,
                    is_control: false,
                    archive,
                })
                .collect(),
            log_start: 0,
            fail: None,
        }
    }

    #[test]
    fn batches_to_archive_are_archived_at_acquisition_and_never_handed_out() {
        // Committed 0-4, an aborted transaction 5-9 and its marker 10, committed 11-15 and its
        // marker 16 (read_committed, design §6.11).
        let mut log = marked(&[
            (0, 4, false),
            (5, 9, true),
            (10, 10, true),
            (11, 15, false),
            (16, 16, true),
        ]);
        let mut sp = SharePartition::new(0);
        assert_eq!(
            acquire(&mut sp, &mut log, A, 0, 100),
            vec![got(0, 4, 1), got(11, 15, 1)]
        );
        assert_eq!((sp.start_offset(), sp.next_offset()), (0, 17));
        assert_eq!(state(&sp, 5), (4, 0));
        assert_eq!(state(&sp, 10), (4, 0));
        assert_eq!(state(&sp, 16), (4, 0));
        // Archived offsets cannot be acknowledged; nothing more to acquire.
        assert_eq!(
            sp.acknowledge(A, &[ack(5, 9, &[ACCEPT])], 0, &settings()),
            Err(KafkaError::InvalidRecordState)
        );
        assert_eq!(acquire(&mut sp, &mut log, B, 0, 100), vec![]);
        // SPSO moves over the archived offsets and the markers once the rest is done.
        sp.acknowledge(A, &[ack(0, 4, &[ACCEPT])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 11);
        sp.acknowledge(A, &[ack(11, 15, &[ACCEPT])], 0, &settings())
            .unwrap();
        assert_eq!(
            (sp.start_offset(), sp.next_offset(), sp.in_flight()),
            (17, 17, 0)
        );
        // A lock expiry never makes them Available.
        assert_eq!(sp.expire_locks(10_000, &settings()), 0);
    }

    #[test]
    fn archived_batches_at_the_front_move_spso_and_take_no_room_or_records() {
        let mut log = marked(&[
            (0, 9, true),
            (10, 10, true),
            (11, 14, false),
            (15, 20, false),
        ]);
        let mut sp = SharePartition::new(0);
        let tight = ShareSettings {
            max_record_locks: 5,
            ..settings()
        };
        let r = sp.acquire(A, 0, limits(4), &tight, &mut log).unwrap();
        sp.check_invariants(&tight).unwrap();
        assert_eq!(r, vec![got(11, 14, 1)]);
        assert_eq!((sp.start_offset(), sp.next_offset()), (11, 15));
        // Only archived offsets read: nothing handed out, SPSO at the end.
        let mut log = marked(&[(0, 3, true), (4, 4, true)]);
        let mut sp = SharePartition::new(0);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 100), vec![]);
        assert_eq!((sp.start_offset(), sp.next_offset()), (5, 5));
    }

    #[test]
    fn offsets_in_no_batch_are_archived_not_delivered() {
        let mut log = FakeLog::sized(&[5]);
        log.batches.push(BatchInfo {
            base_offset: 8,
            last_offset: 9,
            is_control: false,
            archive: false,
        });
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 5);
        assert_eq!(acquire(&mut sp, &mut log, B, 0, 100), vec![got(8, 9, 1)]);
        assert_eq!(state(&sp, 6), (4, 0));
        sp.acknowledge(A, &[ack(0, 4, &[ACCEPT])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 8);
    }

    #[test]
    fn log_start_above_spso_moves_spso_and_archives_available() {
        let mut log = FakeLog::sized(&[10, 10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        acquire(&mut sp, &mut log, B, 0, 10);
        sp.acknowledge(B, &[ack(10, 19, &[RELEASE])], 0, &settings())
            .unwrap();
        log.log_start = 15;
        // A's acquired records below the log start stay acquired and hold SPSO.
        acquire(&mut sp, &mut log, B, 0, 10);
        assert_eq!(sp.start_offset(), 0);
        assert_eq!(state(&sp, 12), (4, 1));
        assert_eq!(state(&sp, 15), (1, 2));
        // RELEASE below the log start archives; SPSO moves up to the first live offset.
        sp.acknowledge(A, &[ack(0, 9, &[RELEASE])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 15);
        sp.check_invariants(&settings()).unwrap();
        // Wholly below: an empty window jumps to the log start.
        let mut sp = SharePartition::new(0);
        log.log_start = 25;
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 3), vec![got(25, 29, 1)]);
        assert_eq!(sp.start_offset(), 25);
    }

    #[test]
    fn a_read_error_changes_nothing() {
        let mut log = FakeLog::sized(&[10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        sp.acknowledge(A, &[ack(0, 4, &[RELEASE])], 0, &settings())
            .unwrap();
        let before = sp.clone();
        log.fail = Some(KafkaError::KafkaStorageError);
        let r = sp.acquire(B, 0, limits(100), &settings(), &mut log);
        assert_eq!(r, Err(KafkaError::KafkaStorageError));
        assert_eq!(sp, before);
    }

    #[test]
    fn accept_release_reject_gap_per_range_and_per_offset() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        sp.acknowledge(
            A,
            &[
                ack(0, 1, &[ACCEPT]),
                ack(2, 5, &[RELEASE, REJECT, GAP, ACCEPT]),
                ack(6, 9, &[RELEASE]),
            ],
            0,
            &settings(),
        )
        .unwrap();
        assert_eq!(sp.start_offset(), 2);
        let states: Vec<_> = (2..10).map(|o| state(&sp, o)).collect();
        assert_eq!(
            states,
            vec![
                (0, 1),
                (4, 1),
                (4, 1),
                (2, 1),
                (0, 1),
                (0, 1),
                (0, 1),
                (0, 1)
            ]
        );
        assert_eq!(sp.delivery_complete_count(), 3);
        sp.check_invariants(&settings()).unwrap();
    }

    #[test]
    fn invalid_acknowledgements_are_invalid_request_and_change_nothing() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        let before = sp.clone();
        let bad: Vec<Vec<AcknowledgementBatch>> = vec![
            vec![ack(5, 4, &[ACCEPT])],
            vec![ack(0, 4, &[5])],
            vec![ack(0, 4, &[-1])],
            vec![ack(0, 4, &[])],
            vec![ack(0, 4, &[ACCEPT, ACCEPT])],
            vec![ack(0, 4, &[ACCEPT]), ack(4, 6, &[ACCEPT])],
            vec![ack(5, 6, &[ACCEPT]), ack(0, 1, &[ACCEPT])],
            // A valid batch first does not get applied when a later one is bad.
            vec![ack(0, 1, &[ACCEPT]), ack(3, 2, &[ACCEPT])],
            vec![ack(i64::MIN, i64::MAX, &[ACCEPT, ACCEPT])],
        ];
        for batches in bad {
            assert_eq!(
                sp.acknowledge(A, &batches, 0, &settings()),
                Err(KafkaError::InvalidRequest),
                "{batches:?}"
            );
            assert_eq!(sp, before);
        }
    }

    #[test]
    fn invalid_record_state_and_nothing_changed() {
        let mut log = FakeLog::sized(&[10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        acquire(&mut sp, &mut log, B, 0, 5);
        sp.acknowledge(A, &[ack(8, 9, &[RELEASE])], 0, &settings())
            .unwrap();
        sp.acknowledge(B, &[ack(10, 10, &[ACCEPT])], 0, &settings())
            .unwrap();
        let before = sp.clone();
        let cases: Vec<(&str, Vec<AcknowledgementBatch>)> = vec![
            // Another member's records.
            (A, vec![ack(0, 1, &[ACCEPT]), ack(12, 12, &[ACCEPT])]),
            (B, vec![ack(0, 0, &[ACCEPT])]),
            // Available (released) records.
            (A, vec![ack(7, 8, &[ACCEPT])]),
            // Already acknowledged.
            (B, vec![ack(10, 11, &[ACCEPT])]),
            // Beyond the window.
            (B, vec![ack(19, 20, &[ACCEPT])]),
            (B, vec![ack(100, 200, &[ACCEPT])]),
            (A, vec![ack(0, i64::MAX, &[ACCEPT])]),
        ];
        for (member, batches) in cases {
            assert_eq!(
                sp.acknowledge(member, &batches, 0, &settings()),
                Err(KafkaError::InvalidRecordState),
                "{member} {batches:?}"
            );
            assert_eq!(sp, before);
        }
    }

    #[test]
    fn offsets_below_spso_are_skipped() {
        let mut log = FakeLog::sized(&[10, 10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        sp.acknowledge(A, &[ack(0, 4, &[ACCEPT])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 5);
        // 0..=4 are done: acknowledging them again, in a range or per offset, is not an error.
        sp.acknowledge(A, &[ack(0, 6, &[REJECT])], 0, &settings())
            .unwrap();
        sp.acknowledge(A, &[ack(i64::MIN, -1, &[REJECT])], 0, &settings())
            .unwrap();
        sp.acknowledge(
            A,
            &[ack(
                3,
                8,
                &[RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, ACCEPT],
            )],
            0,
            &settings(),
        )
        .unwrap();
        assert_eq!(sp.start_offset(), 7);
        assert_eq!(state(&sp, 7), (0, 1));
        assert_eq!(state(&sp, 8), (2, 1));
    }

    #[test]
    fn lock_expiry_with_simulated_time() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 500, 10);
        assert_eq!(sp.earliest_deadline(), Some(1_500));
        assert_eq!(sp.expire_locks(1_499, &settings()), 0);
        assert_eq!(state(&sp, 0), (1, 1));
        assert_eq!(sp.expire_locks(1_500, &settings()), 10);
        assert_eq!(state(&sp, 0), (0, 1));
        assert_eq!(sp.earliest_deadline(), None);
        // Redelivered to B; A's late acknowledgement fails.
        assert_eq!(acquire(&mut sp, &mut log, B, 1_500, 10), vec![got(0, 9, 2)]);
        assert_eq!(
            sp.acknowledge(A, &[ack(0, 9, &[ACCEPT])], 1_600, &settings()),
            Err(KafkaError::InvalidRecordState)
        );
        // An acknowledgement at the deadline is too late even if no tick ran in between.
        assert_eq!(
            sp.acknowledge(B, &[ack(0, 9, &[ACCEPT])], 2_500, &settings()),
            Err(KafkaError::InvalidRecordState)
        );
        assert_eq!(state(&sp, 0), (0, 2));
        sp.check_invariants(&settings()).unwrap();
    }

    #[test]
    fn a_new_acquisition_does_not_extend_older_locks() {
        let mut log = FakeLog::sized(&[5, 5]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 5);
        acquire(&mut sp, &mut log, A, 600, 5);
        sp.expire_locks(1_000, &settings());
        assert_eq!(state(&sp, 4), (0, 1));
        assert_eq!(state(&sp, 5), (1, 1));
        assert_eq!(sp.earliest_deadline(), Some(1_600));
    }

    #[test]
    fn delivery_limit_archives_after_the_last_release() {
        let mut log = FakeLog::sized(&[1, 1]);
        let mut sp = SharePartition::new(0);
        for delivery in 1..=5 {
            assert_eq!(
                acquire(&mut sp, &mut log, A, 0, 1),
                vec![got(0, 0, delivery)]
            );
            sp.acknowledge(A, &[ack(0, 0, &[RELEASE])], 0, &settings())
                .unwrap();
        }
        assert_eq!(sp.start_offset(), 1);
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 1), vec![got(1, 1, 1)]);
        assert_eq!(sp.delivery_complete_count(), 0);
    }

    #[test]
    fn delivery_limit_archives_on_lock_expiry() {
        let mut log = FakeLog::sized(&[1, 1]);
        let mut sp = SharePartition::new(0);
        let mut now = 0;
        for delivery in 1..=5 {
            assert_eq!(
                acquire(&mut sp, &mut log, A, now, 1),
                vec![got(0, 0, delivery)]
            );
            now += 1_000;
            sp.expire_locks(now, &settings());
        }
        assert_eq!(sp.start_offset(), 1);
        assert_eq!(sp.runs().count(), 0);
    }

    #[test]
    fn session_release_decrements_and_never_archives() {
        let mut log = FakeLog::sized(&[5, 5, 5, 5]);
        let mut sp = SharePartition::new(0);
        for _ in 0..4 {
            acquire(&mut sp, &mut log, A, 0, 5);
            sp.acknowledge(A, &[ack(0, 4, &[RELEASE])], 0, &settings())
                .unwrap();
        }
        assert_eq!(acquire(&mut sp, &mut log, A, 0, 5), vec![got(0, 4, 5)]);
        acquire(&mut sp, &mut log, A, 0, 5);
        acquire(&mut sp, &mut log, B, 0, 5);
        assert_eq!(sp.release_member(A), 10);
        sp.check_invariants(&settings()).unwrap();
        // At the limit, yet Available again with one delivery taken back.
        assert_eq!(state(&sp, 0), (0, 4));
        assert_eq!(state(&sp, 5), (0, 0));
        assert_eq!(state(&sp, 10), (1, 1));
        assert_eq!(sp.release_member(A), 0);
        assert_eq!(
            acquire(&mut sp, &mut log, B, 0, 100),
            vec![got(0, 4, 5), got(5, 9, 1), got(15, 19, 1)]
        );
    }

    #[test]
    fn spso_advances_over_the_terminal_prefix_only() {
        let mut log = FakeLog::sized(&[10]);
        let mut sp = SharePartition::new(0);
        acquire(&mut sp, &mut log, A, 0, 10);
        sp.acknowledge(
            A,
            &[ack(1, 3, &[ACCEPT]), ack(4, 5, &[REJECT])],
            0,
            &settings(),
        )
        .unwrap();
        assert_eq!(sp.start_offset(), 0);
        // A released record at the front holds SPSO.
        sp.acknowledge(A, &[ack(0, 0, &[RELEASE])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 0);
        acquire(&mut sp, &mut log, A, 0, 1);
        sp.acknowledge(A, &[ack(0, 0, &[ACCEPT])], 0, &settings())
            .unwrap();
        assert_eq!(sp.start_offset(), 6);
        sp.acknowledge(A, &[ack(6, 9, &[ACCEPT])], 0, &settings())
            .unwrap();
        // Window empty: SPSO = next.
        assert_eq!(
            (sp.start_offset(), sp.next_offset(), sp.end_offset()),
            (10, 10, 9)
        );
        assert_eq!(sp.runs().count(), 0);
        assert_eq!(sp.delivery_complete_count(), 0);
    }

    /// A small seeded PRNG (SplitMix64): no crate for a test loop.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
    }

    #[test]
    fn random_operations_keep_the_invariants() {
        for seed in 0..10u64 {
            random_run(seed, 1_000);
        }
    }

    fn random_run(seed: u64, steps: usize) {
        let mut rng = Rng(seed);
        let members = ["m0", "m1", "m2"];
        let s = ShareSettings {
            record_lock_duration_ms: 100,
            delivery_count_limit: 3,
            max_record_locks: 150,
            renew_enabled: true,
        };
        let sizes: Vec<i64> = (0..200).map(|_| rng.range(1, 12)).collect();
        let mut log = FakeLog::sized(&sizes);
        let mut sp = SharePartition::new(0);
        let mut now = 0i64;
        // The model: offsets whose ACCEPT or REJECT succeeded must never be delivered again.
        let mut done = std::collections::BTreeSet::new();
        let (mut acquired, mut acked, mut refused, mut redelivered) = (0, 0, 0, 0);
        for step in 0..steps {
            let member = members[rng.below(3) as usize];
            let before = sp.clone();
            match rng.below(10) {
                0..=2 => {
                    let n = rng.range(0, 20);
                    let record_limit = rng.below(2) == 0;
                    let l = AcquireLimits {
                        record_limit,
                        ..limits(n)
                    };
                    let r = sp.acquire(member, now, l, &s, &mut log).unwrap();
                    acquired += r.len();
                    if record_limit {
                        let total: i64 = r.iter().map(|a| a.last_offset - a.first_offset + 1).sum();
                        assert!(total <= n, "seed {seed} step {step}: {total} > {n}");
                    }
                    for a in &r {
                        redelivered += usize::from(a.delivery_count > 1);
                        assert!(a.first_offset <= a.last_offset);
                        for o in a.first_offset..=a.last_offset {
                            assert!(
                                !done.contains(&o),
                                "seed {seed} step {step}: {o} redelivered"
                            );
                            // Never taken from a lock that still holds.
                            let was = before.state_of(o).map(|(st, _)| st.clone());
                            assert!(
                                match was {
                                    None | Some(RecordState::Available) => true,
                                    Some(RecordState::Acquired { deadline_ms, .. }) =>
                                        deadline_ms <= now,
                                    Some(_) => false,
                                },
                                "seed {seed} step {step}: {o} was {was:?}"
                            );
                            assert_eq!(
                                sp.state_of(o).and_then(|(st, _)| st.member()),
                                Some(member)
                            );
                        }
                        assert!((1..=s.delivery_count_limit).contains(&a.delivery_count));
                    }
                }
                3..=5 => {
                    // Half the time ranges the member holds, else ranges around the window that
                    // are mostly refused.
                    let mut batches = Vec::new();
                    let held: Vec<(i64, i64)> = sp
                        .runs()
                        .filter(|r| r.state.member() == Some(member))
                        .map(|r| (r.first_offset, r.last_offset))
                        .collect();
                    if !held.is_empty() && rng.below(2) == 0 {
                        let (a, b) = held[rng.below(held.len() as u64) as usize];
                        let first = rng.range(a, b);
                        let last = rng.range(first, b);
                        let types = if rng.below(3) == 0 {
                            (first..=last).map(|_| rng.range(0, 4) as i8).collect()
                        } else {
                            vec![rng.range(0, 4) as i8]
                        };
                        batches.push(ack(first, last, &types));
                    } else {
                        let mut at = sp.start_offset() - rng.range(0, 3);
                        for _ in 0..rng.range(1, 3) {
                            let first = at + rng.range(0, 4);
                            let last = first + rng.range(-1, 6);
                            let types = if rng.below(3) == 0 && last >= first {
                                (first..=last).map(|_| rng.range(0, 3) as i8).collect()
                            } else {
                                let top = if rng.below(20) == 0 { 5 } else { 3 };
                                vec![rng.range(0, top) as i8]
                            };
                            batches.push(ack(first, last, &types));
                            at = last + 1;
                        }
                    }
                    let result = sp.acknowledge(member, &batches, now, &s);
                    match result {
                        Ok(()) => {
                            acked += 1;
                            for b in &batches {
                                for (i, o) in (b.first_offset..=b.last_offset).enumerate() {
                                    let t = if b.acknowledge_types.len() == 1 {
                                        b.acknowledge_types[0]
                                    } else {
                                        b.acknowledge_types[i]
                                    };
                                    if o >= before.start_offset() && t != RELEASE && t != RENEW {
                                        done.insert(o);
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            refused += 1;
                            assert!(matches!(
                                e,
                                KafkaError::InvalidRequest | KafkaError::InvalidRecordState
                            ));
                            // Only expiry may have happened.
                            let mut expected = before.clone();
                            expected.expire_locks(now, &s);
                            assert_eq!(
                                sp, expected,
                                "seed {seed} step {step}: failed ack changed state"
                            );
                        }
                    }
                }
                6 => {
                    sp.release_member(member);
                }
                7 => {
                    now += rng.range(0, 60);
                    sp.expire_locks(now, &s);
                }
                8 => now += rng.range(0, 30),
                _ => {
                    if rng.below(10) == 0 {
                        log.log_start += rng.range(0, 10);
                        sp.move_log_start(log.log_start);
                    }
                }
            }
            if let Err(e) = sp.check_invariants(&s) {
                panic!("seed {seed} step {step}: {e}\n{sp:?}");
            }
            assert!(sp.start_offset() >= before.start_offset(), "SPSO went back");
            assert!(sp.next_offset() >= before.next_offset(), "next went back");
            for o in done.range(sp.start_offset()..) {
                let (st, _) = sp.state_of(*o).expect("done offset inside the window");
                assert!(
                    st.is_terminal(),
                    "seed {seed} step {step}: {o} not terminal"
                );
            }
        }
        // The loop did exercise every path.
        assert!(
            acquired > steps / 20 && acked > steps / 20 && refused > steps / 50 && redelivered > 0,
            "seed {seed}: acquired {acquired} acked {acked} refused {refused} redelivered {redelivered}"
        );
        // Everything is eventually done: release all, expire, and accept whatever comes.
        for _ in 0..10_000 {
            if sp.start_offset() >= log.batches.last().map_or(0, |b| b.last_offset + 1) {
                break;
            }
            now += 1_000;
            let r = sp.acquire("drain", now, limits(50), &s, &mut log).unwrap();
            let batches: Vec<_> = r
                .iter()
                .map(|a| ack(a.first_offset, a.last_offset, &[ACCEPT]))
                .collect();
            sp.acknowledge("drain", &batches, now, &s).unwrap();
            sp.check_invariants(&s).unwrap();
        }
        assert_eq!(sp.runs().count(), 0, "seed {seed}: not drained");
    }
}
