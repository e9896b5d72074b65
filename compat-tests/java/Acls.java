// ACLs and SCRAM credentials with the Java clients, called the way the Kafka tools call them:
// kafka-acls.sh (Admin createAcls / describeAcls / deleteAcls), kafka-configs.sh --entity-type users
// (Admin alterUserScramCredentials / describeUserScramCredentials), and producers and consumers
// whose requests the ACLs allow or deny. One action per run; the test drives the sequence.
// Usage: java -cp ".cache/jars/*" compat-tests/java/Acls.java <action> <bootstrap> [args...]
//   add <binding>...        createAcls; prints "created <binding>" per binding
//   list [filter]           describeAcls (default: everything); prints "acl <binding>" per binding
//   remove <filter>...      deleteAcls; prints "removed <binding>" per binding removed
//   produce <topic> <value> [idempotent]   prints "produced <offset>" or "error <ExceptionClass>"
//   consume <topic> <group> <n>            prints "consumed <value>" per record or "error <ExceptionClass>"
//   txn <topic> <transactional.id> <value> a transaction committed: "committed" or "error <ExceptionClass>"
//   topics                  listTopics: "topic <name>" per topic
//   cluster-ops             describeCluster with authorized operations: "ops <OP,OP,...>" or "error <Class>"
//   scram-set <user> <mechanism> <password> <iterations>   prints "scram-set <user>" or "error <Class>"
//   scram-delete <user> <mechanism>         prints "scram-deleted <user>" or "error <Class>"
//   scram-list [user...]    prints "scram <user> <MECHANISM> <iterations>" or "scram-error <user> <Class>"
// A binding is written RESOURCE_TYPE|PATTERN_TYPE|name|principal|host|OPERATION|PERMISSION;
// in a filter an empty field is null and ANY/MATCH are allowed.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;
import org.apache.kafka.common.serialization.*;

public class Acls {
    static String text(AclBinding b) {
        ResourcePattern p = b.pattern();
        AccessControlEntry e = b.entry();
        return String.join("|", p.resourceType().name(), p.patternType().name(), p.name(),
                e.principal(), e.host(), e.operation().name(), e.permissionType().name());
    }

    static String[] fields(String s) {
        String[] f = s.split("\\|", -1);
        if (f.length != 7) throw new IllegalArgumentException("not a binding: " + s);
        return f;
    }

    static AclBinding binding(String s) {
        String[] f = fields(s);
        return new AclBinding(
                new ResourcePattern(ResourceType.valueOf(f[0]), f[2], PatternType.valueOf(f[1])),
                new AccessControlEntry(f[3], f[4], AclOperation.valueOf(f[5]), AclPermissionType.valueOf(f[6])));
    }

    static String orNull(String s) {
        return s.isEmpty() ? null : s;
    }

    static AclBindingFilter filter(String s) {
        String[] f = fields(s);
        return new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.valueOf(f[0]), orNull(f[2]), PatternType.valueOf(f[1])),
                new AccessControlEntryFilter(orNull(f[3]), orNull(f[4]), AclOperation.valueOf(f[5]),
                        AclPermissionType.valueOf(f[6])));
    }

    static Throwable root(Throwable t) {
        while ((t instanceof ExecutionException || t instanceof CompletionException
                || t instanceof KafkaException && !(t instanceof org.apache.kafka.common.errors.ApiException))
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    static void error(Throwable t) {
        Throwable r = root(t);
        System.out.println("error " + r.getClass().getSimpleName() + " " + r.getMessage());
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        return Admin.create(p);
    }

    static ScramMechanism mechanism(String name) {
        return ScramMechanism.fromMechanismName(name);
    }

    public static void main(String[] args) throws Exception {
        String action = args[0];
        String bootstrap = args[1];
        List<String> rest = Arrays.asList(args).subList(2, args.length);
        switch (action) {
            case "add": {
                List<AclBinding> bindings = new ArrayList<>();
                for (String s : rest) bindings.add(binding(s));
                try (Admin a = admin(bootstrap)) {
                    CreateAclsResult r = a.createAcls(bindings);
                    for (Map.Entry<AclBinding, KafkaFuture<Void>> e : r.values().entrySet()) {
                        try {
                            e.getValue().get(30, TimeUnit.SECONDS);
                            System.out.println("created " + text(e.getKey()));
                        } catch (ExecutionException ex) {
                            error(ex);
                        }
                    }
                }
                break;
            }
            case "list": {
                AclBindingFilter f = rest.isEmpty() ? AclBindingFilter.ANY : filter(rest.get(0));
                try (Admin a = admin(bootstrap)) {
                    List<String> lines = new ArrayList<>();
                    for (AclBinding b : a.describeAcls(f).values().get(30, TimeUnit.SECONDS)) {
                        lines.add("acl " + text(b));
                    }
                    Collections.sort(lines);
                    lines.forEach(System.out::println);
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "remove": {
                List<AclBindingFilter> filters = new ArrayList<>();
                for (String s : rest) filters.add(filter(s));
                try (Admin a = admin(bootstrap)) {
                    for (AclBinding b : a.deleteAcls(filters).all().get(30, TimeUnit.SECONDS)) {
                        System.out.println("removed " + text(b));
                    }
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "produce": {
                Properties p = new Properties();
                p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                boolean idempotent = rest.size() > 2 && rest.get(2).equals("idempotent");
                p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, String.valueOf(idempotent));
                p.put(ProducerConfig.ACKS_CONFIG, "all");
                p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
                p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
                p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
                try (Producer<String, String> pr = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
                    RecordMetadata m = pr.send(new ProducerRecord<>(rest.get(0), rest.get(1))).get(30, TimeUnit.SECONDS);
                    System.out.println("produced " + m.offset());
                } catch (Exception ex) {
                    error(ex);
                }
                break;
            }
            case "consume": {
                Properties p = new Properties();
                p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                p.put(ConsumerConfig.GROUP_ID_CONFIG, rest.get(1));
                p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
                p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
                int n = Integer.parseInt(rest.get(2));
                try (Consumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
                    c.subscribe(List.of(rest.get(0)));
                    int got = 0;
                    long deadline = System.currentTimeMillis() + 30000;
                    while (got < n && System.currentTimeMillis() < deadline) {
                        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                            System.out.println("consumed " + r.value());
                            got++;
                        }
                    }
                    c.commitSync();
                    System.out.println("committed");
                } catch (Exception ex) {
                    error(ex);
                }
                break;
            }
            case "txn": {
                Properties p = new Properties();
                p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, rest.get(1));
                p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
                try (Producer<String, String> pr = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
                    pr.initTransactions();
                    pr.beginTransaction();
                    pr.send(new ProducerRecord<>(rest.get(0), rest.get(2))).get(30, TimeUnit.SECONDS);
                    pr.commitTransaction();
                    System.out.println("committed");
                } catch (Exception ex) {
                    error(ex);
                }
                break;
            }
            case "topics": {
                try (Admin a = admin(bootstrap)) {
                    List<String> names = new ArrayList<>(a.listTopics().names().get(30, TimeUnit.SECONDS));
                    Collections.sort(names);
                    for (String t : names) System.out.println("topic " + t);
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "cluster-ops": {
                try (Admin a = admin(bootstrap)) {
                    DescribeClusterResult r = a.describeCluster(
                            new DescribeClusterOptions().includeAuthorizedOperations(true));
                    Set<AclOperation> ops = r.authorizedOperations().get(30, TimeUnit.SECONDS);
                    List<String> names = new ArrayList<>();
                    if (ops != null) for (AclOperation o : ops) names.add(o.name());
                    Collections.sort(names);
                    System.out.println("ops " + String.join(",", names));
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "scram-set": {
                try (Admin a = admin(bootstrap)) {
                    ScramCredentialInfo info = new ScramCredentialInfo(mechanism(rest.get(1)), Integer.parseInt(rest.get(3)));
                    a.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(rest.get(0), info, rest.get(2))))
                            .all().get(30, TimeUnit.SECONDS);
                    System.out.println("scram-set " + rest.get(0));
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "scram-delete": {
                try (Admin a = admin(bootstrap)) {
                    a.alterUserScramCredentials(List.of(new UserScramCredentialDeletion(rest.get(0), mechanism(rest.get(1)))))
                            .all().get(30, TimeUnit.SECONDS);
                    System.out.println("scram-deleted " + rest.get(0));
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            case "scram-list": {
                try (Admin a = admin(bootstrap)) {
                    DescribeUserScramCredentialsResult r = rest.isEmpty()
                            ? a.describeUserScramCredentials()
                            : a.describeUserScramCredentials(rest);
                    List<String> users = rest.isEmpty()
                            ? new ArrayList<>(r.users().get(30, TimeUnit.SECONDS))
                            : new ArrayList<>(rest);
                    Collections.sort(users);
                    for (String u : users) {
                        try {
                            UserScramCredentialsDescription d = r.description(u).get(30, TimeUnit.SECONDS);
                            for (ScramCredentialInfo i : d.credentialInfos()) {
                                System.out.println("scram " + u + " " + i.mechanism().mechanismName() + " " + i.iterations());
                            }
                        } catch (ExecutionException ex) {
                            System.out.println("scram-error " + u + " " + root(ex).getClass().getSimpleName());
                        }
                    }
                } catch (ExecutionException ex) {
                    error(ex);
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown action " + action);
        }
    }
}
