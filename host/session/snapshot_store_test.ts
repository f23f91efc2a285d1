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
    spec: { argv: ["sh"], projectDir: "/src/app" },
    vm: { image: "default", cpus: 1, memoryMb: 512 },
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
    await assert.rejects(
      newSnapshotDir("first"),
      (e) => e instanceof SnapshotError && e.code === "snapshot_exists" && e.kind === "conflict",
    );
    const racing = await newSnapshotDir("third");
    await writeOne("third", 3);
    await assert.rejects(publishSnapshot(racing, "third"), /A snapshot named third exists/);
    await removeSnapshot("first");
    assert.deepEqual((await listSnapshots()).map((s) => s.name), ["second", "third"]);
    await assert.rejects(
      readSnapshot("first"),
      (e) => e instanceof SnapshotError && e.code === "snapshot_unknown" && e.kind === "not_found",
    );
  });
});

Deno.test("snapshots: names are checked before any path is made", async () => {
  for (const bad of ["../x", "-rf", ".hidden", "a/b", "", "x".repeat(64)]) {
    await assert.rejects(
      readSnapshot(bad),
      (e) => e instanceof SnapshotError && e.kind === "usage",
      bad,
    );
  }
});

Deno.test("snapshots: a format-1 manifest (the CLI's plan) is read; a tampered one is refused", async () => {
  await withStateHome(async () => {
    const temp = await newSnapshotDir("old");
    await Deno.writeTextFile(
      snapshotFiles(temp).manifest,
      JSON.stringify({
        format: 1,
        source: { id: "0f3c2a9e-0000", name: null },
        createdAt: 1,
        plan: { argv: ["sh"], image: "dev", cpus: 2, memoryMb: 2048, share: "/src/app" },
        disks: "workspace",
        imageDigest: "d1",
      }),
    );
    await publishSnapshot(temp, "old");
    const old = await readSnapshot("old");
    assert.deepEqual(old.manifest.vm, { image: "dev", cpus: 2, memoryMb: 2048 });
    assert.equal((old.manifest.spec as { share: string }).share, "/src/app");
    const bad = await newSnapshotDir("bad");
    await Deno.writeTextFile(
      snapshotFiles(bad).manifest,
      JSON.stringify({ format: SNAPSHOT_FORMAT, source: "x", disks: "all" }),
    );
    await publishSnapshot(bad, "bad");
    await assert.rejects(
      readSnapshot("bad"),
      (e) => e instanceof SnapshotError && e.code === "snapshot_unreadable",
    );
  });
});
