import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/** What kafka-transactions.sh does: list, describe, describe-producers, with an open transaction. */
public class TxnAdmin {
    static void check(boolean ok, String what) {
        if (!ok) { System.out.println("FAIL: " + what); System.exit(1); }
    }

    public static void main(String[] a) throws Exception {
        String bs = a[0];
        Properties ap = new Properties(); ap.put("bootstrap.servers", bs);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic("txadmin", 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
            Properties pp = new Properties(); pp.put("bootstrap.servers", bs);
            pp.put("transactional.id", "tool-txn");
            pp.put("transaction.timeout.ms", "60000");
            pp.put("key.serializer", StringSerializer.class.getName());
            pp.put("value.serializer", StringSerializer.class.getName());
            try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
                p.initTransactions();
                p.beginTransaction();
                for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>("txadmin", 1, null, "v" + i)).get();

                Collection<TransactionListing> listed = admin.listTransactions().all().get(30, TimeUnit.SECONDS);
                check(listed.size() == 1, "listTransactions: " + listed);
                TransactionListing l = listed.iterator().next();
                check(l.transactionalId().equals("tool-txn") && l.state() == TransactionState.ONGOING, "listing " + l);
                Collection<TransactionListing> filtered = admin.listTransactions(
                        new ListTransactionsOptions().filterStates(List.of(TransactionState.COMPLETE_COMMIT))).all().get();
                check(filtered.isEmpty(), "state filter " + filtered);

                TransactionDescription d = admin.describeTransactions(List.of("tool-txn")).description("tool-txn").get();
                check(d.state() == TransactionState.ONGOING, "describe state " + d);
                check(d.topicPartitions().equals(Set.of(new TopicPartition("txadmin", 1))), "describe partitions " + d);
                check(d.transactionTimeoutMs() == 60000 && d.producerId() == l.producerId(), "describe ids " + d);
                check(d.transactionStartTimeMs().isPresent(), "start time " + d);

                DescribeProducersResult dp = admin.describeProducers(List.of(new TopicPartition("txadmin", 1)));
                List<ProducerState> ps = dp.partitionResult(new TopicPartition("txadmin", 1)).get().activeProducers();
                check(ps.size() == 1, "describeProducers " + ps);
                ProducerState s = ps.get(0);
                check(s.producerId() == l.producerId() && s.lastSequence() == 2, "producer state " + s);
                check(s.currentTransactionStartOffset().equals(OptionalLong.of(0)), "txn start offset " + s);

                p.commitTransaction();
                TransactionDescription after = admin.describeTransactions(List.of("tool-txn")).description("tool-txn").get();
                check(after.state() == TransactionState.COMPLETE_COMMIT && after.topicPartitions().isEmpty(), "after commit " + after);
                List<ProducerState> ps2 = admin.describeProducers(List.of(new TopicPartition("txadmin", 1)))
                        .partitionResult(new TopicPartition("txadmin", 1)).get().activeProducers();
                check(ps2.get(0).currentTransactionStartOffset().isEmpty(), "no open txn after commit " + ps2);
            }
        }
        System.out.println("OK");
    }
}
