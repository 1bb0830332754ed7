// Kafka's own MirrorMaker 2 classes, run against kafka-mirror's output: the independent check of
// test/mm2/*.test.ts. In MM2's package so that the package-private serializers (recordKey,
// recordValue) give the golden bytes of the unit tests.
//
//   golden                                   hex of OffsetSync, Checkpoint and Heartbeat records
//   translate <bootstrap> <remoteAlias> <group>   RemoteClusterUtils.translateOffsets, one line per partition
//   hops <bootstrap> <upstreamAlias>          MirrorClient.replicationHops
//   read <bootstrap> <topic> <partition> <offset> <count>   offset and value of the records from <offset>
//   decode <bootstrap> <topic> checkpoint|offset-sync|heartbeat   every record of partition 0, decoded by MM2's classes
//   batch                                    the commands above, one per stdin line
package org.apache.kafka.connect.mirror;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class Mm2Check {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("batch")) {
            // One command per stdin line (words split on spaces), each answer after "=== <line>":
            // one JVM start for a whole test.
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.isBlank()) continue;
                System.out.println("=== " + line);
                run(line.trim().split(" "));
            }
            return;
        }
        run(args);
    }

    static void run(String[] args) throws Exception {
        switch (args[0]) {
            case "golden": golden(); break;
            case "translate": translate(args[1], args[2], args[3]); break;
            case "hops": hops(args[1], args[2]); break;
            case "read": read(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]), Integer.parseInt(args[5])); break;
            case "decode": decode(args[1], args[2], args[3]); break;
            default: throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    static void golden() {
        OffsetSync sync = new OffsetSync(new TopicPartition("orders", 3), 1234567890123L, 42L);
        System.out.println("offset-sync " + hex(sync.recordKey()) + " " + hex(sync.recordValue()));
        Checkpoint checkpoint = new Checkpoint("billing", new TopicPartition("A.orders", 7), 1000L, 990L, "m\u00e9ta");
        System.out.println("checkpoint " + hex(checkpoint.recordKey()) + " " + hex(checkpoint.recordValue()));
        Heartbeat heartbeat = new Heartbeat("A", "B", 1765000000000L);
        System.out.println("heartbeat " + hex(heartbeat.recordKey()) + " " + hex(heartbeat.recordValue()));
    }

    static Map<String, Object> clientProps(String bootstrap) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrap);
        return props;
    }

    static void translate(String bootstrap, String remoteAlias, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = RemoteClusterUtils.translateOffsets(clientProps(bootstrap), remoteAlias, group, Duration.ofSeconds(20));
        Map<String, Long> sorted = new TreeMap<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) sorted.put(e.getKey().topic() + " " + e.getKey().partition(), e.getValue().offset());
        for (Map.Entry<String, Long> e : sorted.entrySet()) System.out.println(e.getKey() + " " + e.getValue());
    }

    static void hops(String bootstrap, String upstreamAlias) throws Exception {
        System.out.println(RemoteClusterUtils.replicationHops(clientProps(bootstrap), upstreamAlias));
    }

    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("enable.auto.commit", "false");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static void read(String bootstrap, String topic, int partition, long offset, int count) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            TopicPartition tp = new TopicPartition(topic, partition);
            consumer.assign(Collections.singletonList(tp));
            consumer.seek(tp, offset);
            List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20000;
            while (got.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) if (got.size() < count) got.add(r);
            }
            for (ConsumerRecord<byte[], byte[]> r : got) System.out.println(r.offset() + " " + new String(r.value()));
        }
    }

    static void decode(String bootstrap, String topic, String kind) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(Collections.singletonList(tp));
            consumer.seekToBeginning(Collections.singletonList(tp));
            long end = consumer.endOffsets(Collections.singletonList(tp)).get(tp);
            long deadline = System.currentTimeMillis() + 20000;
            while (consumer.position(tp) < end && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    switch (kind) {
                        case "checkpoint": System.out.println(Checkpoint.deserializeRecord(r)); break;
                        case "offset-sync": System.out.println(OffsetSync.deserializeRecord(r)); break;
                        case "heartbeat": System.out.println(Heartbeat.deserializeRecord(r)); break;
                        default: throw new IllegalArgumentException(kind);
                    }
                }
            }
        }
    }
}
