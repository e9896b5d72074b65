//! Kafka 4.2's `simple` share-group assignor (KIP-932; `SimpleAssignor` and its homogeneous and
//! heterogeneous builders since KAFKA-18901): partitions are balanced over the members, and a
//! partition is shared by several members only when there are more members than partitions.
//!
//! For a set of members that subscribe to the same topics, with P partitions and M members:
//! each partition should have `sharing = ceil(M / P)` members; the `sharing × P` slots are dealt
//! so that members' counts differ by at most one; members keep what they had where they can
//! (stickiness), then over-shared partitions and over-full members give some back, then the free
//! slots go to members under their count. Members with different subscriptions are split into
//! sets of topics with the same subscribers, and each set is assigned on its own (Kafka applies
//! the same principles per topic; its exact choices come from hash-map order, so only balance
//! and sharing are promised, not which member gets which partition).
//!
//! **Must never:** look at anything but its arguments (pure: no clock, no topics registry).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::consumer::Assignment;

/// A partition, by topic id.
type TopicPartition = (Uuid, i32);

/// The target assignment of every member in `subscriptions` (member id → subscribed topic ids
/// that exist), given each topic's partition count and the members' current target (for
/// stickiness). Every member of `subscriptions` appears in the answer, perhaps with nothing.
pub fn simple_assign(
    subscriptions: &BTreeMap<String, BTreeSet<Uuid>>,
    partition_counts: &BTreeMap<Uuid, i32>,
    current: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    // Topics grouped by the set of members subscribing to them.
    let mut by_subscribers: BTreeMap<Vec<String>, Vec<Uuid>> = BTreeMap::new();
    for (topic, count) in partition_counts {
        if *count <= 0 {
            continue;
        }
        let members: Vec<String> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(m, _)| m.clone())
            .collect();
        if !members.is_empty() {
            by_subscribers.entry(members).or_default().push(*topic);
        }
    }
    let mut out: BTreeMap<String, BTreeSet<TopicPartition>> = subscriptions
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (members, topics) in by_subscribers {
        let partitions: Vec<TopicPartition> = topics
            .iter()
            .flat_map(|t| (0..partition_counts[t]).map(move |p| (*t, p)))
            .collect();
        let wanted: BTreeSet<TopicPartition> = partitions.iter().copied().collect();
        let held: BTreeMap<String, BTreeSet<TopicPartition>> = members
            .iter()
            .map(|m| {
                let mine = current
                    .get(m)
                    .map(|a| {
                        a.iter()
                            .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
                            .filter(|tp| wanted.contains(tp))
                            .collect()
                    })
                    .unwrap_or_default();
                (m.clone(), mine)
            })
            .collect();
        for (m, tps) in build(&partitions, held) {
            out.entry(m).or_default().extend(tps);
        }
    }
    out.into_iter()
        .map(|(m, tps)| {
            let mut a = Assignment::new();
            for (t, p) in tps {
                a.entry(t).or_default().insert(p);
            }
            (m, a)
        })
        .collect()
}

/// The homogeneous builder: `partitions` (sorted) over the members of `held` (each with what it
/// holds now among `partitions`).
fn build(
    partitions: &[TopicPartition],
    mut held: BTreeMap<String, BTreeSet<TopicPartition>>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let p = partitions.len();
    let m = held.len();
    if p == 0 || m == 0 {
        return held;
    }
    let sharing = m.div_ceil(p);
    let slots = sharing * p;
    // Members holding the most get the larger counts first, so fewer partitions move.
    let mut order: Vec<String> = held.keys().cloned().collect();
    order.sort_by(|a, b| held[b].len().cmp(&held[a].len()).then(a.cmp(b)));
    let due: BTreeMap<String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let upto = |k: usize| (slots * k).div_ceil(m);
            (id.clone(), upto(i + 1) - upto(i))
        })
        .collect();
    // How many members hold each partition, kept up to date as slots move.
    let mut holders: HashMap<TopicPartition, usize> =
        partitions.iter().map(|tp| (*tp, 0)).collect();
    for tps in held.values() {
        for tp in tps {
            *holders.entry(*tp).or_default() += 1;
        }
    }

    // Partitions shared by more than `sharing` members give some back: members over their count
    // first, then the fullest.
    for tp in partitions {
        while holders[tp] > sharing {
            let Some(victim) = held
                .iter()
                .filter(|(_, s)| s.contains(tp))
                .max_by_key(|(id, s)| (s.len() > due[*id], s.len(), std::cmp::Reverse(*id)))
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            if let Some(s) = held.get_mut(&victim) {
                s.remove(tp);
            }
            *holders.entry(*tp).or_default() -= 1;
        }
    }
    // Members over their count give back their most-shared partitions.
    for id in &order {
        while held[id].len() > due[id] {
            let Some(tp) = held[id].iter().max_by_key(|tp| holders[*tp]).copied() else {
                break;
            };
            if let Some(s) = held.get_mut(id) {
                s.remove(&tp);
            }
            *holders.entry(tp).or_default() -= 1;
        }
    }
    // Free slots to members under their count: the least-held partitions first, each slot to
    // the member furthest below its count that does not hold the partition yet. When every
    // member short of its count already holds a partition, its slot stays empty rather than
    // give one member a partition twice.
    let mut by_need: Vec<TopicPartition> = partitions.to_vec();
    by_need.sort_by_key(|tp| holders[tp]);
    for tp in by_need {
        while holders[&tp] < sharing {
            let taker = held
                .iter()
                .filter(|(id, s)| s.len() < due[*id] && !s.contains(&tp))
                .max_by_key(|(id, s)| (due[*id] - s.len(), std::cmp::Reverse(*id)))
                .map(|(id, _)| id.clone());
            let Some(id) = taker else { break };
            if let Some(s) = held.get_mut(&id) {
                s.insert(tp);
            }
            *holders.entry(tp).or_default() += 1;
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn subs(members: &[(&str, &[u128])]) -> BTreeMap<String, BTreeSet<Uuid>> {
        members
            .iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|n| t(*n)).collect()))
            .collect()
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    fn holders(out: &BTreeMap<String, Assignment>, tp: (Uuid, i32)) -> usize {
        out.values()
            .filter(|a| a.get(&tp.0).is_some_and(|ps| ps.contains(&tp.1)))
            .count()
    }

    fn counts(out: &BTreeMap<String, Assignment>) -> Vec<usize> {
        let mut c: Vec<usize> = out.values().map(count).collect();
        c.sort();
        c
    }

    #[test]
    fn one_partition_is_shared_by_every_member() {
        let s = subs(&[("a", &[1]), ("b", &[1]), ("c", &[1])]);
        let out = simple_assign(&s, &[(t(1), 1)].into(), &BTreeMap::new());
        assert_eq!(counts(&out), vec![1, 1, 1]);
        assert_eq!(holders(&out, (t(1), 0)), 3);
    }

    #[test]
    fn more_partitions_than_members_are_split_without_sharing() {
        let s = subs(&[("a", &[1]), ("b", &[1]), ("c", &[1])]);
        let out = simple_assign(&s, &[(t(1), 6)].into(), &BTreeMap::new());
        assert_eq!(counts(&out), vec![2, 2, 2]);
        for p in 0..6 {
            assert_eq!(holders(&out, (t(1), p)), 1, "partition {p}");
        }
    }

    #[test]
    fn two_partitions_three_members_share_two_ways() {
        let s = subs(&[("a", &[1]), ("b", &[1]), ("c", &[1])]);
        let out = simple_assign(&s, &[(t(1), 2)].into(), &BTreeMap::new());
        assert_eq!(counts(&out), vec![1, 1, 2]);
        assert_eq!(holders(&out, (t(1), 0)), 2);
        assert_eq!(holders(&out, (t(1), 1)), 2);
    }

    #[test]
    fn balance_and_sharing_hold_for_many_shapes() {
        for members in 1..8usize {
            for parts in 1..10i32 {
                let names: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
                let s: BTreeMap<String, BTreeSet<Uuid>> =
                    names.iter().map(|n| (n.clone(), [t(1)].into())).collect();
                let out = simple_assign(&s, &[(t(1), parts)].into(), &BTreeMap::new());
                let c = counts(&out);
                assert!(c[c.len() - 1] - c[0] <= 1, "{members}/{parts}: {c:?}");
                let sharing = members.div_ceil(parts as usize);
                for p in 0..parts {
                    assert_eq!(holders(&out, (t(1), p)), sharing, "{members}/{parts}");
                }
            }
        }
    }

    #[test]
    fn sticky_when_a_member_joins_or_leaves() {
        let parts: BTreeMap<Uuid, i32> = [(t(1), 6)].into();
        let two = subs(&[("a", &[1]), ("b", &[1])]);
        let first = simple_assign(&two, &parts, &BTreeMap::new());
        // Recomputing moves nothing.
        assert_eq!(simple_assign(&two, &parts, &first), first);
        // A third member takes one from each, the others keep the rest.
        let three = subs(&[("a", &[1]), ("b", &[1]), ("c", &[1])]);
        let second = simple_assign(&three, &parts, &first);
        assert_eq!(counts(&second), vec![2, 2, 2]);
        for m in ["a", "b"] {
            let kept: BTreeSet<i32> = second[m][&t(1)]
                .intersection(&first[m][&t(1)])
                .copied()
                .collect();
            assert_eq!(kept.len(), 2, "{m} keeps two of its three");
        }
        // c leaves: a and b keep theirs and split c's.
        let back = simple_assign(&two, &parts, &second);
        assert_eq!(counts(&back), vec![3, 3]);
        for m in ["a", "b"] {
            assert!(second[m][&t(1)].is_subset(&back[m][&t(1)]));
        }
    }

    #[test]
    fn heterogeneous_subscriptions_stay_within_each_members_topics() {
        // a and b read topic 1 (4 partitions); c reads topic 2 (1 partition); b also reads 2.
        let s = subs(&[("a", &[1]), ("b", &[1, 2]), ("c", &[2])]);
        let out = simple_assign(
            &s,
            &[(t(1), 4), (t(2), 1), (t(3), 5)].into(),
            &BTreeMap::new(),
        );
        assert!(out["a"].keys().all(|k| *k == t(1)));
        assert!(out["c"].keys().all(|k| *k == t(2)));
        for p in 0..4 {
            assert_eq!(holders(&out, (t(1), p)), 1);
        }
        assert_eq!(count(&out["a"]), 2);
        // Topic 2's one partition goes to both of its subscribers.
        assert_eq!(holders(&out, (t(2), 0)), 2);
        // Nobody subscribes to topic 3.
        assert_eq!(holders(&out, (t(3), 0)), 0);
    }

    #[test]
    fn a_large_group_is_assigned_quickly_and_evenly() {
        let names: Vec<String> = (0..200).map(|i| format!("m{i:03}")).collect();
        let s: BTreeMap<String, BTreeSet<Uuid>> = names
            .iter()
            .map(|n| (n.clone(), [t(1), t(2)].into()))
            .collect();
        let parts: BTreeMap<Uuid, i32> = [(t(1), 1000), (t(2), 999)].into();
        let started = std::time::Instant::now();
        let first = simple_assign(&s, &parts, &BTreeMap::new());
        let mut fewer = s.clone();
        fewer.remove("m007");
        let second = simple_assign(&fewer, &parts, &first);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(counts(&first)[0], 9);
        assert_eq!(counts(&first)[199], 10);
        let c = counts(&second);
        assert!(c[c.len() - 1] - c[0] <= 1, "{c:?}");
        // Only the leaver's partitions moved.
        for (m, a) in &second {
            assert!(first[m].iter().all(|(t, ps)| ps.is_subset(&a[t])), "{m}");
        }
    }

    #[test]
    fn no_partitions_or_no_members() {
        let s = subs(&[("a", &[9])]);
        let out = simple_assign(&s, &[(t(1), 3)].into(), &BTreeMap::new());
        assert_eq!(count(&out["a"]), 0);
        let out = simple_assign(&BTreeMap::new(), &[(t(1), 3)].into(), &BTreeMap::new());
        assert!(out.is_empty());
    }
}
