package io.kohakuvault;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The facade from Java: overloads for the defaults, checked-looking exceptions, Iterable and Stream scans. */
class JavaInteropTest {

    private static String tempDb() throws Exception {
        File dir = Files.createTempDirectory("kvjava").toFile();
        dir.deleteOnExit();
        return new File(dir, "j.db").getPath();
    }

    @Test
    void basicsFromJava() throws Exception {
        try (KVault kv = new KVault(tempDb())) {
            assertEquals("kv", kv.getTable());
            kv.set("raw", new byte[] {1, 2, 3});
            kv.putString("s", "héllo");
            kv.putLong("n", 42L);
            kv.putPlain("doc", Map.of("id", 7, "tags", List.of("a", "b")));
            assertArrayEquals(new byte[] {1, 2, 3}, kv.get("raw"));
            assertEquals("héllo", kv.getString("s"));
            assertEquals(42L, kv.getLong("n"));
            assertNull(kv.get("missing"));
            assertEquals(4, kv.size());
            // the Map interface
            Map<String, byte[]> asMap = kv;
            assertTrue(asMap.containsKey("raw"));
            assertTrue(kv.keySet().contains("s"));

            Map<String, byte[]> many = new LinkedHashMap<>();
            for (int i = 0; i < 100; i++) many.put(String.format("k:%03d", i), new byte[] {(byte) i});
            kv.putMany(many);
            List<byte[]> got = kv.getMany(Arrays.asList("k:005", "nope"));
            assertArrayEquals(new byte[] {5}, got.get(0));
            assertNull(got.get(1));

            // scans: Iterable for for-each, Stream for pipelines; overloads instead of default arguments
            List<String> keys = new ArrayList<>();
            for (String k : kv.keysIterable("k:")) keys.add(k);
            assertEquals(100, keys.size());
            assertEquals("k:000", keys.get(0));
            try (Stream<String> st = kv.keysStream("k:")) {
                assertEquals(List.of("k:010", "k:011"), st.skip(10).limit(2).collect(Collectors.toList()));
            }
            assertEquals(100L, kv.keysStream("k:", null, 7).count());
            assertEquals(3L, kv.keysStream("k:", 3L).count());
            long total = kv.itemsStream("k:").mapToLong(e -> e.getValue()[0]).sum();
            assertEquals(4950L, total);
            for (Map.Entry<String, byte[]> e : kv.itemsIterable("k:09")) assertEquals(1, e.getValue().length);
            assertEquals(42L, kv.itemsTaggedStream("n").findFirst().get().getValue().asLong());

            // streaming with the default chunk size
            byte[] blob = new byte[100_000];
            kv.putStream("blob", new ByteArrayInputStream(blob), blob.length);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(blob.length, kv.getStream("blob", out));

            kv.enableCache();
            kv.set("c", new byte[] {9});
            assertArrayEquals(new byte[] {9}, kv.get("c"));
            kv.disableCache();

            assertEquals(KVault.coreVersion(), KVault.getVersion());
            assertEquals(TaggedValue.of("x"), TaggedValue.from("x"));
        }
    }

    @Test
    void errorsFromJava() throws Exception {
        String path = tempDb();
        KVault kv = new KVault(path, "kv", new OpenOptions());
        KohakuVaultException.InvalidArgument e =
                assertThrows(KohakuVaultException.InvalidArgument.class, () -> kv.keysStream("", null, 0).count());
        assertTrue(e.getReason().contains("pageSize"));
        assertThrows(KohakuVaultException.InvalidArgument.class, () -> kv.enableCache(0));
        kv.close();
        assertThrows(KohakuVaultException.Closed.class, () -> kv.get("a"));
        try {
            kv.putString("a", "b");
        } catch (KohakuVaultException err) {
            assertTrue(err instanceof KohakuVaultException.Closed);
        }
        OpenOptions ro = new OpenOptions(true);
        try (KVault r = new KVault(path, "kv", ro)) {
            assertThrows(KohakuVaultException.ReadOnly.class, () -> r.set("x", new byte[0]));
        }
    }
}
