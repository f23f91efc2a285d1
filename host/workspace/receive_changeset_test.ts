import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeCbor, encodeChangeEntry, encodeFrame } from "@agentbox/protocol";
import { cborMapOf, sharedReferenceBomb } from "../../guest-agent/protocol/testing/mod.ts";
import { ChangesetError, changesetPaths } from "./changeset.ts";
import { receiveChangeset } from "./receive_changeset.ts";
import { freeBytes } from "./state_space.ts";

const encoder = new TextEncoder();

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A changes stream cut into small pieces, as a channel may deliver it. */
function streamOf(parts: Uint8Array[], pieceBytes = 7): ReadableStream<Uint8Array> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const pieces = [];
  for (let i = 0; i < all.length; i += pieceBytes) pieces.push(all.slice(i, i + pieceBytes));
  return ReadableStream.from(pieces);
}

/** A file entry as the guest sends it (no hash: the host computes it); `lie` forges fields. */
function fileEntry(
  path: string,
  content: Uint8Array,
  lie: Partial<{ size: number; sha256: string }> = {},
) {
  const record = { path, type: "file", mode: 0o644, size: content.length, ...lie };
  return [encodeChangeEntry(record), content];
}

async function withSession(fn: (paths: ReturnType<typeof changesetPaths>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-receive-" });
  const paths = changesetPaths(dir);
  await Deno.mkdir(paths.root, { recursive: true });
  try {
    await fn(paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("receiveChangeset stores records and content-addressed blobs", async () => {
  await withSession(async (paths) => {
    const hello = encoder.encode("hello\n");
    const big = crypto.getRandomValues(new Uint8Array(60_000));
    const parts = [
      ...(fileEntry("b/hello.txt", hello)),
      // A hash the guest made up is replaced by the host's.
      ...(fileEntry("a/copy.txt", hello, { sha256: "0".repeat(64) })),
      ...(fileEntry("empty", new Uint8Array())),
      encodeChangeEntry({ path: "b", type: "dir", mode: 0o755 }),
      ...(fileEntry("big.bin", big)),
      encodeChangeEntry({ path: "gone.txt", type: "deleted" }),
      encodeChangeEntry({ path: "link", type: "symlink", target: "../x" }),
    ];
    const { records, bytes } = await receiveChangeset(streamOf(parts), paths);
    assert.deepEqual(records.map((r) => r.path), [
      "a/copy.txt",
      "b",
      "b/hello.txt",
      "big.bin",
      "empty",
      "gone.txt",
      "link",
    ]);
    assert.equal(bytes, hello.length * 2 + big.length);
    const blobs = [...Deno.readDirSync(paths.blobs)].map((e) => e.name).sort();
    assert.deepEqual(
      blobs,
      [await sha256(hello), await sha256(big), await sha256(new Uint8Array())].sort(),
    );
    assert.deepEqual(await Deno.readFile(`${paths.blobs}/${await sha256(big)}`), big);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.records)), records);
    const copy = records.find((r) => r.path === "a/copy.txt");
    assert.equal(copy?.type === "file" && copy.sha256, sha256(hello));
  });
});

Deno.test("receiveChangeset refuses hostile streams and keeps nothing", async () => {
  const data = encoder.encode("data");
  const cases: [string, Uint8Array[] | Promise<Uint8Array[]>, RegExp][] = [
    [
      "wrong size",
      fileEntry("a", data, { size: 2 }),
      /not valid CBOR|ended inside|not its size|bad frame/,
    ],
    [
      "short content",
      Promise.resolve([fileEntry("a", data, { size: 10 })[0], data]),
      /ended inside/,
    ],
    [
      "duplicate path",
      Promise.resolve([
        encodeChangeEntry({ path: "a", type: "deleted" }),
        encodeChangeEntry({ path: "a", type: "deleted" }),
      ]),
      /Duplicate/,
    ],
    [
      "unknown type",
      Promise.resolve([encodeChangeEntry({ path: "a", type: "device" })]),
      /unknown type/,
    ],
    ["oversized entry", Promise.resolve([new Uint8Array([0, 1, 0, 1])]), /over the limit/],
    ["not CBOR", Promise.resolve([new Uint8Array([0, 0, 0, 1, 0xff])]), /not (valid|plain) CBOR/],
    [
      "negative size",
      Promise.resolve([
        encodeChangeEntry({ path: "a", type: "file", mode: 0, size: -1, sha256: "x" }),
      ]),
      /bad size/,
    ],
  ];
  for (const [name, parts, expected] of cases) {
    await withSession(async (paths) => {
      const stream = streamOf(await parts);
      await assert.rejects(() => receiveChangeset(stream, paths), expected, name);
      assert.deepEqual([...Deno.readDirSync(paths.root)], [], `${name}: nothing kept`);
    });
  }
});

Deno.test("receiveChangeset enforces byte and entry limits; an earlier changeset survives a failure", async () => {
  await withSession(async (paths) => {
    await receiveChangeset(streamOf([encodeChangeEntry({ path: "kept", type: "deleted" })]), paths);
    const tooBig = fileEntry("a", new Uint8Array(2048));
    await assert.rejects(
      () => receiveChangeset(streamOf(tooBig), paths, { maxBytes: 1024 }),
      /exceed the 1 KiB quota \(workspace\.max_changes\)/,
    );
    const many = Array.from(
      { length: 4 },
      (_, i) => encodeChangeEntry({ path: `f${i}`, type: "deleted" }),
    );
    await assert.rejects(
      () => receiveChangeset(streamOf(many), paths, { maxEntries: 3 }),
      /more than 3/,
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.records)), [{
      path: "kept",
      type: "deleted",
    }]);
  });
});

Deno.test("a file announced over the quota is refused before its content arrives", async () => {
  await withSession(async (paths) => {
    let pulled = 0;
    // Announces 1 GiB and would send it: the refusal must come before the content is read.
    const entry = encodeChangeEntry({
      path: "sparse.img",
      type: "file",
      mode: 0o644,
      size: 2 ** 30,
    });
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(pulled++ === 0 ? entry : new Uint8Array(65536));
      },
    });
    const error = await receiveChangeset(stream, paths, { maxBytes: 64 * 1024 ** 2 }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof ChangesetError);
    assert.equal(error.code, "over_quota");
    assert.match(error.message, /64 MiB quota .*sparse\.img/);
    assert.ok(pulled <= 2, `${pulled} pieces read`);
    assert.deepEqual([...Deno.readDirSync(paths.root)], []);
  });
});

Deno.test("zeros in a big file are stored as holes", async () => {
  await withSession(async (paths) => {
    const content = new Uint8Array(16 * 1024 * 1024);
    content.set(encoder.encode("start"), 0);
    content.set(encoder.encode("middle"), 8 * 1024 * 1024 + 3);
    const { records } = await receiveChangeset(
      streamOf(fileEntry("sparse", content), 70_000),
      paths,
    );
    const record = records[0] as { sha256: string };
    const blob = `${paths.blobs}/${record.sha256}`;
    assert.deepEqual(await Deno.readFile(blob), content);
    const info = await Deno.stat(blob);
    assert.equal(info.size, content.length);
    // Two 64 KiB blocks hold data; a file system without holes would show 16 MiB.
    assert.ok(info.blocks! * 512 <= 256 * 1024, `${info.blocks! * 512} bytes allocated`);
  });
});

Deno.test("a changeset that would eat into the reserve is refused and leaves nothing", async () => {
  await withSession(async (paths) => {
    await receiveChangeset(streamOf([encodeChangeEntry({ path: "kept", type: "deleted" })]), paths);
    const data = crypto.getRandomValues(new Uint8Array(65536));
    const big = new Uint8Array(32 * 1024 * 1024).map((_, i) => data[i % 65536] | 1);
    // Leave 1 MiB above the reserve: the 32 MiB of data cannot fit.
    const reserveBytes = freeBytes(paths.root) - 1024 * 1024;
    const error = await receiveChangeset(streamOf(fileEntry("big", big), 65536), paths, {
      reserveBytes,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ChangesetError, String(error));
    assert.equal(error.code, "low_space");
    assert.match(error.message, /reserve \(workspace\.state_reserve\)/);
    assert.deepEqual([...Deno.readDirSync(paths.root)].map((e) => e.name), ["changes"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.records)), [{
      path: "kept",
      type: "deleted",
    }]);
  });
});

Deno.test("receiveChangeset refuses nested shared references at once, with a short message", async () => {
  // 22 levels: 2^22 copies of a 16-character string once printed. Main spent seconds and half a
  // gigabyte building a 67 MB error message from this 300-byte entry; more levels never end.
  const bomb = sharedReferenceBomb(22);
  const entries = [
    cborMapOf({ path: bomb, type: encodeCbor("file"), mode: encodeCbor(0), size: encodeCbor(-1) }),
    cborMapOf({ path: encodeCbor("a"), type: bomb }),
    cborMapOf({ path: encodeCbor("a"), type: encodeCbor("unsupported"), detail: bomb }),
  ];
  for (const [i, entry] of entries.entries()) {
    await withSession(async (paths) => {
      const started = performance.now();
      await assert.rejects(
        () => receiveChangeset(streamOf([encodeFrame(entry)], 4096), paths),
        (e: Error) => {
          assert.ok(e.message.length < 300, `entry ${i}: ${e.message.length} characters`);
          assert.match(e.message, /not plain CBOR: tag 28/);
          return true;
        },
      );
      assert.ok(performance.now() - started < 1000, `entry ${i}: refused at once`);
      assert.deepEqual([...Deno.readDirSync(paths.root)], [], `entry ${i}: nothing kept`);
    });
  }
});

Deno.test("receiveChangeset keeps only known fields and bounds the memory the records take", async () => {
  await withSession(async (paths) => {
    // Unknown fields are dropped as each record arrives (the protocol ignores unknown keys).
    const junk = Array.from({ length: 2000 }, () => ({}));
    const { records } = await receiveChangeset(
      streamOf([encodeChangeEntry({ path: "d", type: "dir", mode: 0o755, junk })]),
      paths,
    );
    assert.deepEqual(records, [{ path: "d", type: "dir", mode: 0o755 }]);
    // Long names count against the memory bound, not only the number of entries.
    const long = Array.from(
      { length: 40 },
      (_, i) => encodeChangeEntry({ path: `${"n".repeat(3000)}/${i}`, type: "deleted" }),
    );
    await assert.rejects(
      () => receiveChangeset(streamOf(long, 4096), paths, { maxRecordMemory: 100_000 }),
      /takes more than 100000 bytes of memory after 16 entries; nothing was kept/,
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.records)), records);
  });
});
