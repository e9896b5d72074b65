"""Share groups (KIP-932) in a 3-node cluster, with Java kafka-clients 4.3's KafkaShareConsumer.

Share-partition state lives on the topic-partition's leader and is written, before each
acknowledgement is answered, to the share coordinator: the leader of the `__share_group_state`
partition the share-partition's key hashes to, replicated to its ISR (design
docs/design/share-groups.md §14.1). These tests kill the nodes that hold it and check what the
issue's single-broker proof checks: no accepted record is delivered again, every record is
accepted once, nothing is left.
"""
import signal

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import GROUP_OVERRIDES, JavaProc
from test_share_consumers import SHARE_OVERRIDES, accept_all_across, recs, wait_acked


def create_replicated(cluster, topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    futs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=3)],
                               operation_timeout=10)
    for f in futs.values():
        f.result(timeout=15)
    return cluster.wait_leaders(topic, partitions)


def node_restarter(cluster, node):
    """A disruption: SIGKILL `node`; then (as `after`) start it again and wait for the cluster."""
    return node.kill, lambda: cluster.start()


def node_freezer(cluster, node):
    """A disruption: SIGSTOP `node` (fenced once broker.session.timeout.ms passes, while it
    still believes it leads); then SIGCONT it, a zombie until it catches up, and wait for the
    cluster."""
    def thaw():
        node.proc.send_signal(signal.SIGCONT)
        cluster.wait_ready(timeout=30)
    return lambda: node.proc.send_signal(signal.SIGSTOP), thaw


@pytest.mark.parametrize("victim", ["partition-leader", "controller", "stopped-leader"])
def test_accepted_records_are_never_redelivered_across_a_node_sigkill(start_cluster, java_classes, victim):
    """3,000 records on a partition replicated three times, accepted ten at a time by a
    KafkaShareConsumer (commitSync). About half way the partition's leader (or the controller,
    when another node leads) is SIGKILLed and restarted three quarters of the way; or the
    leader is SIGSTOPped and, three quarters of the way, SIGCONTed as a zombie that still holds
    the old share-partition (its writes are fenced by the new leader's epoch). Every key is
    accepted exactly once as confirmed, none delivered after its acceptance was confirmed,
    nothing left over."""
    cluster = start_cluster(overrides=SHARE_OVERRIDES)
    topic, group = f"shc-{victim}", f"sgc-{victim}"
    leaders = create_replicated(cluster, topic)
    leader = leaders[0].leader
    if victim == "controller":
        ctrl = cluster.controller_id()
        target = cluster.node(ctrl if ctrl != leader else next(n.node_id for n in cluster.nodes
                                                             if n.node_id != leader))
    else:
        target = cluster.node(leader)
    disrupt, after = (node_freezer if victim == "stopped-leader" else node_restarter)(cluster, target)
    try:
        accept_all_across(java_classes, cluster.bootstrap, topic, group, 3000, disrupt, after=after)
    finally:
        if target.proc is not None and target.proc.poll() is None:
            target.proc.send_signal(signal.SIGCONT)


def test_an_idle_groups_start_offset_survives_a_whole_cluster_sigkill(start_cluster, java_classes):
    """Ten records accepted, the member gone, every node SIGKILLed and started again: the group
    starts again at offset 10, not where share.auto.offset.reset (earliest) would."""

    cluster = start_cluster(overrides=GROUP_OVERRIDES)
    create_replicated(cluster, "shc-idle")
    first = JavaProc(java_classes, "ShareMember", cluster.bootstrap, "shc-idle", "sgc-idle", "accept",
                     "produce", "10")
    try:
        wait_acked(first, set(range(10)), timeout=60)
    finally:
        first.stop()
    cluster.kill()
    cluster.start()
    cluster.wait_leaders("shc-idle", 1, timeout=30)
    # keys 0..4 again, at offsets 10..14
    after = JavaProc(java_classes, "ShareMember", cluster.bootstrap, "shc-idle", "sgc-idle", "accept",
                     "produce", "5")
    try:
        wait_acked(after, set(range(5)), timeout=90)
        assert recs(after) == {k: [1] for k in range(5)}
    finally:
        after.stop()
