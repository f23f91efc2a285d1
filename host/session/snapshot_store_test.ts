import assert from "node:assert/strict";
import {
  listSnapshots,
  newSnapshotDir,
  publishSnapshot,
  readSnapshot,
  removeSnapshot,
  SNAPSHOT_FORMAT,
  SnapshotError,
  snapshotFiles,
  type SnapshotManifest,
} from "./snapshot_store.ts";

async function withStateHome(body: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "agentbox-snapshots-" });
  const saved = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", root);
  try {
    await body(root);
  } finally {
    if (saved === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", saved);
    await Deno.remove(root, { recursive: true });
  }
}

async function writeOne(name: string, createdAt: number) {
  const temp = await newSnapshotDir(name);
  const manifest = {
    format: SNAPSHOT_FORMAT,
    source: { id: "0f3c2a9e-0000", name: "web" },
    createdAt,
    plan: {} as SnapshotManifest["plan"],
    disks: "none",
    imageDigest: "d1",
  } satisfies SnapshotManifest;
  await Deno.writeTextFile(snapshotFiles(temp).manifest, JSON.stringify(manifest));
  await Deno.writeTextFile(snapshotFiles(temp).state, "x".repeat(5000));
  await publishSnapshot(temp, name);
}

Deno.test("snapshots: written whole, listed oldest first, names unique, removed", async () => {
  await withStateHome(async () => {
    assert.deepEqual(await listSnapshots(), []);
    await writeOne("second", 2);
    await writeOne("first", 1);
    // A snapshot still being written is not listed.
    await newSnapshotDir("partial");
    const listed = await listSnapshots();
    assert.deepEqual(listed.map((s) => s.name), ["first", "second"]);
    assert.ok(listed[0].bytes >= 5000);
    await assert.rejects(newSnapshotDir("first"), (e) => e instanceof SnapshotError && e.usage);
    const racing = await newSnapshotDir("third");
    await writeOne("third", 3);
    await assert.rejects(publishSnapshot(racing, "third"), /A snapshot named third exists/);
    await removeSnapshot("first");
    assert.deepEqual((await listSnapshots()).map((s) => s.name), ["second", "third"]);
    await assert.rejects(readSnapshot("first"), (e) => e instanceof SnapshotError && e.usage);
  });
});

Deno.test("snapshots: names are checked before any path is made", async () => {
  for (const bad of ["../x", "-rf", ".hidden", "a/b", "", "x".repeat(64)]) {
    await assert.rejects(readSnapshot(bad), (e) => e instanceof SnapshotError && e.usage, bad);
  }
});
