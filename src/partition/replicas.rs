//! What a partition's leader knows of its followers (Kafka's `Partition` ISR state and
//! `Replica` fetch state): each follower's log end offset as its fetches report it, when it was
//! last caught up, the in-sync replica set the cluster committed and a change of it in flight.
//! From them: the high watermark, and the ISR changes to ask the controller for.
//!
//! A pure state machine: time is an argument, nothing here does I/O. The partition holds it
//! under its lock ([`super::Partition`]).

use std::collections::BTreeMap;

/// One follower as its leader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerState {
    /// The offset its last fetch asked for (everything below is in its log); -1 until it
    /// fetched from this leader.
    pub log_end_offset: i64,
    /// When it last had everything the leader had (Kafka's lastCaughtUpTimeMs).
    pub last_caught_up_ms: i64,
    last_fetch_ms: i64,
    /// The leader's log end offset at its last fetch.
    last_fetch_leader_end: i64,
}

impl FollowerState {
    /// A follower that has not fetched from this leader yet.
    fn unknown(last_caught_up_ms: i64) -> FollowerState {
        FollowerState {
            log_end_offset: -1,
            last_caught_up_ms,
            last_fetch_ms: 0,
            last_fetch_leader_end: -1,
        }
    }
}

/// The leader's replication state of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderState {
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The committed in-sync replicas other than the leader.
    pub isr: Vec<i32>,
    /// An ISR (other than the leader) asked of the controller and not yet committed; while
    /// it is in flight the high watermark counts both sets (Kafka's maximal ISR), and no other
    /// change is asked.
    pub pending_isr: Option<Vec<i32>>,
    /// The first offset of this leader's epoch: a follower joins the ISR only once it has
    /// everything below it.
    pub epoch_start_offset: i64,
    followers: BTreeMap<i32, FollowerState>,
}

impl LeaderState {
    /// A leader with no followers: the single broker's partitions, and RF 1 in a cluster.
    pub fn solo(leader_epoch: i32) -> LeaderState {
        LeaderState {
            leader_epoch,
            partition_epoch: 0,
            isr: Vec::new(),
            pending_isr: None,
            epoch_start_offset: 0,
            followers: BTreeMap::new(),
        }
    }

    /// This node became leader at `leader_epoch` with the other `replicas` as followers, the
    /// in-sync ones in `isr`. As in Kafka, in-sync followers count as caught up now (they get
    /// a full `replica.lag.time.max.ms` to fetch from the new leader); their log end offsets
    /// are unknown until they fetch, so the high watermark waits for them.
    pub fn new(
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: &[i32],
        isr: &[i32],
        epoch_start_offset: i64,
        now_ms: i64,
    ) -> LeaderState {
        let followers = replicas
            .iter()
            .map(|&r| {
                let caught_up = if isr.contains(&r) { now_ms } else { 0 };
                (r, FollowerState::unknown(caught_up))
            })
            .collect();
        LeaderState {
            leader_epoch,
            partition_epoch,
            isr: isr.to_vec(),
            pending_isr: None,
            epoch_start_offset,
            followers,
        }
    }

    /// The cluster committed a new state of this partition in the same leader epoch (an ISR
    /// change, a reassignment): followers that are no longer replicas are forgotten, new ones
    /// start unknown; a pending ISR change is settled once the partition epoch moved past it.
    pub fn update(&mut self, partition_epoch: i32, replicas: &[i32], isr: &[i32]) {
        if partition_epoch != self.partition_epoch {
            self.pending_isr = None;
        }
        self.partition_epoch = partition_epoch;
        self.isr = isr.to_vec();
        self.followers.retain(|r, _| replicas.contains(r));
        for &r in replicas {
            self.followers
                .entry(r)
                .or_insert_with(|| FollowerState::unknown(0));
        }
    }

    pub fn follower(&self, replica: i32) -> Option<&FollowerState> {
        self.followers.get(&replica)
    }

    /// Whether `replica` is one of this partition's followers.
    pub fn is_follower(&self, replica: i32) -> bool {
        self.followers.contains_key(&replica)
    }

    /// A fetch from `replica` at `fetch_offset` while the leader's log ended at `leader_end`
    /// (Kafka's `Replica.updateFetchStateOrThrow`): it has everything below `fetch_offset`;
    /// it is caught up now if it asked for the log end, or as of its previous fetch if it now
    /// has what the leader had then.
    pub fn record_fetch(&mut self, replica: i32, fetch_offset: i64, leader_end: i64, now_ms: i64) {
        let Some(f) = self.followers.get_mut(&replica) else {
            return;
        };
        if fetch_offset >= leader_end {
            f.last_caught_up_ms = f.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= f.last_fetch_leader_end {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.log_end_offset = fetch_offset;
        f.last_fetch_leader_end = leader_end;
        f.last_fetch_ms = now_ms;
    }

    /// Whether `r` counts for the high watermark: committed in sync, or in the change in
    /// flight.
    fn in_maximal_isr(&self, r: i32) -> bool {
        self.isr.contains(&r) || self.pending_isr.as_ref().is_some_and(|p| p.contains(&r))
    }

    /// The high watermark the followers allow: the smallest log end offset over the leader
    /// (`leader_end`) and the maximal ISR. A member that has not fetched yet holds it at -1,
    /// so the caller keeps the old one (a high watermark never moves back on a leader).
    pub fn high_watermark(&self, leader_end: i64) -> i64 {
        self.followers
            .iter()
            .filter(|(r, _)| self.in_maximal_isr(**r))
            .map(|(_, f)| f.log_end_offset)
            .fold(leader_end, i64::min)
    }

    /// The ISR (without the leader) to ask for when `replica` may join: it is a follower
    /// outside the ISR that has everything up to the high watermark and this epoch's start.
    pub fn isr_to_expand(&self, replica: i32, high_watermark: i64) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() || self.isr.contains(&replica) {
            return None;
        }
        let f = self.followers.get(&replica)?;
        if f.log_end_offset < 0
            || f.log_end_offset < high_watermark
            || f.log_end_offset < self.epoch_start_offset
        {
            return None;
        }
        let mut next = self.isr.clone();
        next.push(replica);
        next.sort_unstable();
        Some(next)
    }

    /// The ISR (without the leader) to ask for when in-sync followers fell behind: those that
    /// do not have the log end (`leader_end`) and were last caught up more than `max_lag_ms`
    /// ago leave (Kafka's `replica.lag.time.max.ms`).
    pub fn isr_to_shrink(&self, leader_end: i64, now_ms: i64, max_lag_ms: i64) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() {
            return None;
        }
        let lagging = |r: &i32| {
            self.followers.get(r).is_none_or(|f| {
                f.log_end_offset != leader_end && now_ms - f.last_caught_up_ms > max_lag_ms
            })
        };
        if !self.isr.iter().any(lagging) {
            return None;
        }
        let mut next: Vec<i32> = self.isr.iter().copied().filter(|r| !lagging(r)).collect();
        next.sort_unstable();
        Some(next)
    }

    /// In-sync replicas including the leader, as `min.insync.replicas` counts them (the
    /// committed set: Kafka checks the ISR the controller accepted).
    pub fn isr_size(&self) -> usize {
        self.isr.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_leader_watermark_is_its_log_end() {
        let s = LeaderState::solo(3);
        assert_eq!(s.high_watermark(42), 42);
        assert_eq!(s.isr_size(), 1);
        assert_eq!(s.isr_to_shrink(42, 1_000_000, 10), None);
    }

    #[test]
    fn watermark_is_the_smallest_isr_end_and_waits_for_unknown_followers() {
        let mut s = LeaderState::new(1, 4, &[2, 3], &[2, 3], 10, 1000);
        // Nobody fetched yet: -1, the caller keeps its old watermark.
        assert_eq!(s.high_watermark(20), -1);
        s.record_fetch(2, 15, 20, 1001);
        assert_eq!(s.high_watermark(20), -1);
        s.record_fetch(3, 18, 20, 1002);
        assert_eq!(s.high_watermark(20), 15);
        s.record_fetch(2, 20, 20, 1003);
        assert_eq!(s.high_watermark(20), 18);
        assert_eq!(s.follower(2).unwrap().last_caught_up_ms, 1003);
    }

    #[test]
    fn out_of_sync_follower_does_not_hold_the_watermark() {
        let mut s = LeaderState::new(1, 0, &[2, 3], &[2], 0, 0);
        s.record_fetch(2, 50, 50, 10);
        s.record_fetch(3, 5, 50, 10);
        assert_eq!(s.high_watermark(50), 50);
        // 3 joins once it has the watermark and the epoch start.
        assert_eq!(s.isr_to_expand(3, 50), None);
        s.record_fetch(3, 50, 50, 20);
        assert_eq!(s.isr_to_expand(3, 50), Some(vec![2, 3]));
        // While the change is in flight it counts for the watermark, and nothing else is asked.
        s.pending_isr = Some(vec![2, 3]);
        assert_eq!(s.isr_to_expand(3, 50), None);
        s.record_fetch(3, 50, 60, 30);
        s.record_fetch(2, 60, 60, 30);
        assert_eq!(s.high_watermark(60), 50);
        // The commit arrives with a new partition epoch: settled.
        s.update(1, &[2, 3], &[2, 3]);
        assert_eq!(s.pending_isr, None);
        assert_eq!(s.isr, vec![2, 3]);
    }

    #[test]
    fn expansion_waits_for_the_epoch_start() {
        let mut s = LeaderState::new(7, 0, &[2], &[], 100, 0);
        s.record_fetch(2, 90, 100, 5);
        assert_eq!(s.isr_to_expand(2, 80), None);
        s.record_fetch(2, 100, 100, 6);
        assert_eq!(s.isr_to_expand(2, 80), Some(vec![2]));
    }

    #[test]
    fn lagging_follower_leaves_after_the_max_lag() {
        let mut s = LeaderState::new(1, 0, &[2, 3], &[2, 3], 0, 0);
        s.record_fetch(2, 10, 10, 100);
        s.record_fetch(3, 10, 10, 100);
        // The leader appends; 2 keeps fetching and catching up, 3 stops.
        for t in (200..=40_000).step_by(500) {
            s.record_fetch(2, 20, 20, t);
        }
        assert_eq!(s.isr_to_shrink(20, 30_000, 30_000), None);
        assert_eq!(s.isr_to_shrink(20, 30_101, 30_000), Some(vec![2]));
        // A follower that has the log end is in sync however long ago it fetched.
        s.record_fetch(3, 20, 20, 30_200);
        assert_eq!(s.isr_to_shrink(20, 90_000, 30_000), None);
    }

    #[test]
    fn catching_up_counts_from_the_previous_fetch() {
        let mut s = LeaderState::new(1, 0, &[2], &[2], 0, 0);
        // At t=10 the leader had 100; at t=20 the follower asks for 100 while the leader has
        // 150: it was caught up as of t=10.
        s.record_fetch(2, 50, 100, 10);
        s.record_fetch(2, 100, 150, 20);
        assert_eq!(s.follower(2).unwrap().last_caught_up_ms, 10);
    }

    #[test]
    fn replicas_removed_are_forgotten_and_new_ones_unknown() {
        let mut s = LeaderState::new(1, 0, &[2, 3], &[2, 3], 0, 0);
        s.record_fetch(2, 5, 5, 1);
        s.update(1, &[2, 4], &[2]);
        assert!(s.follower(3).is_none());
        assert_eq!(s.follower(4).unwrap().log_end_offset, -1);
        assert_eq!(s.follower(2).unwrap().log_end_offset, 5);
        assert_eq!(s.high_watermark(9), 5);
    }
}
