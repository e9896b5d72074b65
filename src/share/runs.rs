//! The in-flight window of one share-partition as a run-length map (design §6.3): every offset
//! of `[SPSO, next)` belongs to exactly one [`Run`] of offsets that share a state, a delivery
//! count and, while Acquired, a member and a lock deadline.
//!
//! Owns splitting runs at range boundaries and merging equal neighbours back together. Knows
//! nothing of SPSO, members' rights or the delivery limit: [`super::partition`] decides the
//! transitions, this map only stores them. Never panics on any offsets it is handed: a range
//! outside the map simply touches nothing.

use std::collections::BTreeMap;

/// The state of an in-flight offset (design §6.2; ids are those of `__share_group_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    /// May be delivered (again).
    Available,
    /// Delivered to one member, locked until `deadline_ms`.
    Acquired { member: String, deadline_ms: i64 },
    /// Accepted; terminal.
    Acknowledged,
    /// Rejected, a gap, given up after the delivery limit, or below the log start; terminal.
    Archived,
}

impl RecordState {
    /// Acknowledged or Archived: nothing can happen to the offset any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, RecordState::Acknowledged | RecordState::Archived)
    }

    /// Kafka's id of the state (`RecordState` in `SharePartition`; Acquired is never persisted).
    pub fn id(&self) -> i8 {
        match self {
            RecordState::Available => 0,
            RecordState::Acquired { .. } => 1,
            RecordState::Acknowledged => 2,
            RecordState::Archived => 4,
        }
    }

    /// The member holding the lock, when Acquired.
    pub fn member(&self) -> Option<&str> {
        match self {
            RecordState::Acquired { member, .. } => Some(member),
            _ => None,
        }
    }
}

/// Offsets `first_offset..=last_offset` with one state and one delivery count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub first_offset: i64,
    pub last_offset: i64,
    pub state: RecordState,
    /// Deliveries so far (0 before the first one); Kafka's int16 `DeliveryCount`.
    pub delivery_count: i16,
}

impl Run {
    /// Number of offsets in the run.
    pub fn len(&self) -> i64 {
        self.last_offset - self.first_offset + 1
    }

    /// A run always holds at least one offset; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.last_offset < self.first_offset
    }

    fn same_kind(&self, other: &Run) -> bool {
        self.state == other.state && self.delivery_count == other.delivery_count
    }
}

/// Runs keyed by their first offset, contiguous, ascending, non-overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runs {
    map: BTreeMap<i64, Run>,
}

impl Runs {
    pub fn new() -> Self {
        Runs::default()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of runs (not offsets).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Run> {
        self.map.values()
    }

    pub fn front(&self) -> Option<&Run> {
        self.map.values().next()
    }

    pub fn back(&self) -> Option<&Run> {
        self.map.values().next_back()
    }

    pub fn pop_front(&mut self) -> Option<Run> {
        self.map.pop_first().map(|(_, run)| run)
    }

    /// Appends a run after the last one, merging it into the last when they are alike. The
    /// caller keeps the map contiguous (`run.first_offset` = last offset + 1); a run that is
    /// empty or does not follow on is refused (`false`) rather than breaking the map.
    pub fn push_back(&mut self, run: Run) -> bool {
        if run.is_empty() {
            return false;
        }
        if let Some(last) = self.map.values_mut().next_back() {
            if last.last_offset.checked_add(1) != Some(run.first_offset) {
                return false;
            }
            if last.same_kind(&run) {
                last.last_offset = run.last_offset;
                return true;
            }
        }
        self.map.insert(run.first_offset, run);
        true
    }

    /// The runs that hold any offset of `first..=last`, in order, unsplit.
    pub fn overlapping(&self, first: i64, last: i64) -> impl Iterator<Item = &Run> {
        let start = self
            .map
            .range(..=first)
            .next_back()
            .filter(|(_, r)| r.last_offset >= first)
            .map_or(first, |(k, _)| *k);
        let end = if last < start { start } else { last };
        self.map
            .range(start..=end)
            .map(|(_, r)| r)
            .filter(move |r| r.last_offset >= first && r.first_offset <= last)
    }

    /// Makes `offset` the first offset of a run if it lies inside one.
    fn split_at(&mut self, offset: i64) {
        let Some((_, run)) = self.map.range_mut(..offset).next_back() else {
            return;
        };
        if run.last_offset < offset {
            return;
        }
        let mut tail = run.clone();
        run.last_offset = offset - 1;
        tail.first_offset = offset;
        self.map.insert(offset, tail);
    }

    /// Applies `f` to every run within `first..=last` after splitting runs at the range's ends,
    /// then merges alike neighbours again. Offsets of the range outside the map are ignored.
    /// `f` must not change a run's offsets.
    pub fn update(&mut self, first: i64, last: i64, mut f: impl FnMut(&mut Run)) {
        if first > last {
            return;
        }
        self.split_at(first);
        if let Some(after) = last.checked_add(1) {
            self.split_at(after);
        }
        for run in self.map.range_mut(first..=last).map(|(_, r)| r) {
            f(run);
        }
        self.coalesce(first, last);
    }

    /// Merges alike neighbours among the runs touching `first..=last` and the runs just around.
    fn coalesce(&mut self, first: i64, last: i64) {
        let start = self
            .map
            .range(..first)
            .next_back()
            .map_or(first, |(k, _)| *k);
        let end = self
            .map
            .range(last.saturating_add(1)..)
            .next()
            .map_or(last, |(k, _)| *k);
        let keys: Vec<i64> = self.map.range(start..=end).map(|(k, _)| *k).collect();
        let mut current: Option<i64> = None;
        for key in keys {
            if let Some(cur) = current {
                let (merge, next_last) = match (self.map.get(&cur), self.map.get(&key)) {
                    (Some(a), Some(b)) => (
                        a.same_kind(b) && a.last_offset.checked_add(1) == Some(b.first_offset),
                        b.last_offset,
                    ),
                    _ => (false, 0),
                };
                if merge {
                    self.map.remove(&key);
                    if let Some(a) = self.map.get_mut(&cur) {
                        a.last_offset = next_last;
                    }
                    continue;
                }
            }
            current = Some(key);
        }
    }

    /// Checks the map's own shape: keys match first offsets, runs non-empty, contiguous and
    /// ascending, no two alike neighbours left unmerged.
    pub fn check(&self) -> Result<(), String> {
        let mut prev: Option<&Run> = None;
        for (key, run) in &self.map {
            if *key != run.first_offset {
                return Err(format!("run keyed {key} starts at {}", run.first_offset));
            }
            if run.is_empty() {
                return Err(format!("empty run at {key}"));
            }
            if let Some(p) = prev {
                if p.last_offset.checked_add(1) != Some(run.first_offset) {
                    return Err(format!(
                        "runs not contiguous: {}..={} then {}..={}",
                        p.first_offset, p.last_offset, run.first_offset, run.last_offset
                    ));
                }
                if p.same_kind(run) {
                    return Err(format!("alike runs not merged at {}", run.first_offset));
                }
            }
            prev = Some(run);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: i64, last: i64, state: RecordState, count: i16) -> Run {
        Run {
            first_offset: first,
            last_offset: last,
            state,
            delivery_count: count,
        }
    }

    fn shape(runs: &Runs) -> Vec<(i64, i64, i8, i16)> {
        runs.iter()
            .map(|r| {
                (
                    r.first_offset,
                    r.last_offset,
                    r.state.id(),
                    r.delivery_count,
                )
            })
            .collect()
    }

    #[test]
    fn push_back_merges_alike_and_refuses_holes() {
        let mut runs = Runs::new();
        assert!(runs.push_back(run(10, 14, RecordState::Available, 0)));
        assert!(runs.push_back(run(15, 19, RecordState::Available, 0)));
        assert!(!runs.push_back(run(21, 22, RecordState::Available, 0)));
        assert!(!runs.push_back(run(20, 19, RecordState::Available, 0)));
        assert!(runs.push_back(run(20, 20, RecordState::Archived, 0)));
        assert_eq!(shape(&runs), vec![(10, 19, 0, 0), (20, 20, 4, 0)]);
        runs.check().unwrap();
    }

    #[test]
    fn update_splits_and_merges_back() {
        let mut runs = Runs::new();
        runs.push_back(run(0, 99, RecordState::Available, 1));
        runs.update(10, 19, |r| r.state = RecordState::Acknowledged);
        assert_eq!(
            shape(&runs),
            vec![(0, 9, 0, 1), (10, 19, 2, 1), (20, 99, 0, 1)]
        );
        runs.check().unwrap();
        runs.update(10, 19, |r| r.state = RecordState::Available);
        assert_eq!(shape(&runs), vec![(0, 99, 0, 1)]);
        runs.update(0, 0, |r| r.delivery_count = 2);
        runs.update(99, 99, |r| r.delivery_count = 2);
        assert_eq!(
            shape(&runs),
            vec![(0, 0, 0, 2), (1, 98, 0, 1), (99, 99, 0, 2)]
        );
        runs.check().unwrap();
    }

    #[test]
    fn ranges_outside_the_map_touch_nothing() {
        let mut runs = Runs::new();
        runs.push_back(run(5, 9, RecordState::Available, 0));
        runs.update(i64::MIN, 4, |r| r.state = RecordState::Archived);
        runs.update(10, i64::MAX, |r| r.state = RecordState::Archived);
        runs.update(9, 5, |r| r.state = RecordState::Archived);
        assert_eq!(shape(&runs), vec![(5, 9, 0, 0)]);
        runs.update(i64::MIN, i64::MAX, |r| r.delivery_count = 3);
        assert_eq!(shape(&runs), vec![(5, 9, 0, 3)]);
        assert_eq!(runs.overlapping(i64::MIN, i64::MAX).count(), 1);
        assert_eq!(runs.overlapping(0, 4).count(), 0);
        assert_eq!(runs.overlapping(9, 3).count(), 0);
    }

    #[test]
    fn overlapping_returns_partial_runs_unsplit() {
        let mut runs = Runs::new();
        runs.push_back(run(0, 9, RecordState::Available, 0));
        runs.push_back(run(10, 19, RecordState::Archived, 0));
        runs.push_back(run(20, 29, RecordState::Available, 0));
        let got: Vec<_> = runs.overlapping(5, 20).map(|r| r.first_offset).collect();
        assert_eq!(got, vec![0, 10, 20]);
        let got: Vec<_> = runs.overlapping(12, 12).map(|r| r.first_offset).collect();
        assert_eq!(got, vec![10]);
    }

    /// The map against a per-offset model under random updates.
    #[test]
    fn random_updates_match_a_per_offset_model() {
        let mut seed = 7u64;
        let mut next = move |n: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as i64
        };
        let mut runs = Runs::new();
        runs.push_back(run(100, 299, RecordState::Available, 0));
        let mut model: Vec<(RecordState, i16)> = vec![(RecordState::Available, 0); 200];
        for _ in 0..5_000 {
            let first = 90 + next(220);
            let last = first + next(30) - 5;
            let (state, count) = match next(4) {
                0 => (RecordState::Available, next(3) as i16),
                1 => (RecordState::Acknowledged, 1),
                2 => (RecordState::Archived, next(2) as i16),
                _ => (
                    RecordState::Acquired {
                        member: "m".into(),
                        deadline_ms: next(2),
                    },
                    1,
                ),
            };
            runs.update(first, last, |r| {
                r.state = state.clone();
                r.delivery_count = count;
            });
            for o in first.max(100)..=last.min(299) {
                model[(o - 100) as usize] = (state.clone(), count);
            }
            runs.check().unwrap();
            for r in runs.iter() {
                for o in r.first_offset..=r.last_offset {
                    assert_eq!(
                        model[(o - 100) as usize],
                        (r.state.clone(), r.delivery_count),
                        "offset {o}"
                    );
                }
            }
            assert_eq!(runs.front().map(|r| r.first_offset), Some(100));
            assert_eq!(runs.back().map(|r| r.last_offset), Some(299));
        }
    }
}
