// Share groups (KIP-932) through the Java Admin client, called the way kafka-share-groups.sh calls it:
// --list (listGroups forShareGroups), --describe --members / --state (describeShareGroups), --delete
// (listGroups, then deleteShareGroups). The members themselves are raw ShareGroupHeartbeats sent by the
// Python test (KafkaShareConsumer also needs ShareFetch, which fjord does not serve yet).
// Usage: java -cp ".cache/jars/*" compat-tests/java/ShareAdmin.java <scenario> <bootstrap> <group> <topic>
//   stable   the group has members m1 and m2 sharing <topic>'s one partition: listed Stable as a share
//            group (and not as a consumer group), described with both members, not deletable
//   empty    the group has no member left: listed and described Empty, deleted, then unknown
// Every scenario asserts on its own, prints "ok <section>" / "FAIL <section>: ..." and finally OK, or exits 1.
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;

public class ShareAdmin {
    static void check(boolean ok, String msg) {
        if (!ok) throw new AssertionError(msg);
    }

    static void eq(Object expected, Object got, String what) {
        if (!Objects.equals(expected, got))
            throw new AssertionError(what + ": expected <" + expected + "> got <" + got + ">");
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    static Throwable expectFailure(KafkaFuture<?> f, Class<? extends Throwable> cause, String what) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            check(cause.isInstance(e.getCause()), what + ": expected " + cause.getSimpleName() + " got " + e.getCause());
            return e.getCause();
        }
        throw new AssertionError(what + ": expected " + cause.getSimpleName() + " but it succeeded");
    }

    interface Section {
        void run() throws Exception;
    }

    static final List<String> failures = new ArrayList<>();

    static void section(String name, Section body) {
        try {
            body.run();
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            System.out.println("FAIL " + name + ": " + t);
            t.printStackTrace(System.out);
            failures.add(name + ": " + t);
        }
    }

    static Optional<GroupListing> listed(Admin a, ListGroupsOptions options, String group) throws Exception {
        return get(a.listGroups(options).all()).stream().filter(g -> g.groupId().equals(group)).findFirst();
    }

    public static void main(String[] args) {
        String scenario = args[0], bs = args[1], group = args[2], topic = args[3];
        Properties p = new Properties();
        p.put("bootstrap.servers", bs);
        try (Admin a = Admin.create(p)) {
            switch (scenario) {
                case "stable": stable(a, group, topic); break;
                case "empty": empty(a, group); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        }
        if (!failures.isEmpty()) {
            System.out.println("FAILED: " + failures);
            System.exit(1);
        }
        System.out.println("OK");
    }

    static void stable(Admin a, String group, String topic) {
        section("list (kafka-share-groups.sh --list)", () -> {
            GroupListing l = listed(a, ListGroupsOptions.forShareGroups(), group)
                .orElseThrow(() -> new AssertionError(group + " not listed as a share group"));
            eq(Optional.of(GroupType.SHARE), l.type(), "type");
            eq(Optional.of(GroupState.STABLE), l.groupState(), "state");
            eq("share", l.protocol(), "protocol type");
            check(listed(a, ListGroupsOptions.forShareGroups().inGroupStates(Set.of(GroupState.STABLE)), group).isPresent(),
                "state filter Stable");
            check(listed(a, ListGroupsOptions.forShareGroups().inGroupStates(Set.of(GroupState.EMPTY)), group).isEmpty(),
                "state filter Empty");
            check(listed(a, ListGroupsOptions.forConsumerGroups(), group).isEmpty(), "not a consumer group");
        });
        section("describe (--describe --members --verbose)", () -> {
            ShareGroupDescription d = get(a.describeShareGroups(List.of(group)).all()).get(group);
            eq(GroupState.STABLE, d.groupState(), "state");
            eq(2, d.groupEpoch(), "group epoch");
            eq(2, d.targetAssignmentEpoch(), "assignment epoch");
            check(d.coordinator() != null && d.coordinator().id() >= 0, "coordinator " + d.coordinator());
            List<String> ids = d.members().stream().map(ShareMemberDescription::consumerId).sorted().collect(Collectors.toList());
            eq(List.of("m1", "m2"), ids, "members");
            for (ShareMemberDescription m : d.members()) {
                eq(Set.of(new TopicPartition(topic, 0)), m.assignment().topicPartitions(), m.consumerId() + " assignment");
                eq("share-compat", m.clientId(), "client id");
                check(m.host().contains("127.0.0.1"), "host " + m.host());
            }
        });
        section("delete refused while members are in (--delete)", () -> {
            expectFailure(a.deleteShareGroups(List.of(group)).all(), GroupNotEmptyException.class, "delete");
        });
        section("an unknown group is GROUP_ID_NOT_FOUND", () -> {
            expectFailure(a.describeShareGroups(List.of("no-such-share-group")).all(),
                GroupIdNotFoundException.class, "describe unknown");
        });
    }

    static void empty(Admin a, String group) {
        section("list and describe Empty", () -> {
            GroupListing l = listed(a, ListGroupsOptions.forShareGroups(), group)
                .orElseThrow(() -> new AssertionError(group + " not listed"));
            eq(Optional.of(GroupState.EMPTY), l.groupState(), "state");
            ShareGroupDescription d = get(a.describeShareGroups(List.of(group)).all()).get(group);
            eq(GroupState.EMPTY, d.groupState(), "state");
            check(d.members().isEmpty(), "members " + d.members());
        });
        section("delete (--delete)", () -> {
            get(a.deleteShareGroups(List.of(group)).all());
            check(listed(a, ListGroupsOptions.forShareGroups(), group).isEmpty(), "still listed");
            expectFailure(a.describeShareGroups(List.of(group)).all(), GroupIdNotFoundException.class, "describe deleted");
        });
    }
}
