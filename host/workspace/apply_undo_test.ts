import assert from "node:assert/strict";
import { applyChangeset, type ApplyOptions } from "./apply.ts";
import { undoApply } from "./apply_undo.ts";
import { readCompletion } from "./completion.ts";
import {
  makeCase,
  snapshot,
  takeTestBaseline,
  type TestRecord,
  writeChangeset,
  writeTree,
} from "./testing/test_tree.ts";

const TREE = {
  "a.txt": "a\n",
  "run.sh": "#!/bin/sh\n",
  "gone/g.txt": "g\n",
  "gone/sub/f.txt": "f\n",
  "file-to-dir": "was a file\n",
  "old-link": { link: "a.txt" },
};

const CHANGES: TestRecord[] = [
  { path: "a.txt", type: "file", content: "A\n" },
  { path: "run.sh", type: "file", content: "#!/bin/sh\n", mode: 0o755 },
  { path: "gone", type: "deleted" },
  { path: "file-to-dir", type: "dir", mode: 0o755 },
  { path: "old-link", type: "symlink", target: "run.sh" },
  { path: "new", type: "dir", mode: 0o755 },
  { path: "new/deep", type: "dir", mode: 0o755 },
  { path: "new/deep/n.txt", type: "file", content: "n\n" },
];

async function setUp(): Promise<ApplyOptions & { undoDir: string }> {
  const c = await makeCase();
  await writeTree(c.root, TREE);
  const baseline = await takeTestBaseline(c.root);
  const records = await writeChangeset(c.blobs, CHANGES);
  return {
    root: c.root,
    records,
    baseline,
    blobs: c.blobs,
    journalDir: c.journalDir,
    completionFile: c.completionFile,
    undoDir: `${c.session}/workspace/last-apply`,
    allowSymlinks: true,
  };
}

Deno.test("undo restores files, modes, symlinks, deleted trees and replaced files byte for byte", async () => {
  const options = await setUp();
  const before = await snapshot(options.root);
  const summary = await applyChangeset(options);
  const failed = summary.outcomes.filter((o) => !["applied", "unchanged"].includes(o.result));
  assert.deepEqual(failed, []);
  assert.notDeepEqual(await snapshot(options.root), before);
  const undone = await undoApply(options);
  assert.equal(undone.status, "undone");
  assert.ok(undone.outcomes.every((o) => o.result === "applied"), JSON.stringify(undone));
  assert.deepEqual(await snapshot(options.root), before);
  assert.equal(await Deno.lstat(options.undoDir).catch(() => null), null);
  assert.equal((await readCompletion(options.completionFile, summary.changeset)).size, 0);
});

Deno.test("undo keeps what was edited since the apply, and only the last apply can be undone", async () => {
  const options = await setUp();
  await applyChangeset({ ...options, paths: ["a.txt"] });
  const second = await applyChangeset(options);
  assert.equal(second.status, "applied");
  await Deno.writeTextFile(`${options.root}/new/deep/n.txt`, "edited\n");
  const undone = await undoApply(options);
  const byPath = new Map(undone.outcomes.map((o) => [o.path, o]));
  assert.equal(byPath.get("new/deep/n.txt")?.result, "conflict");
  // Its directories cannot go either: they are not empty.
  assert.notEqual(byPath.get("new/deep")?.result, "applied");
  assert.equal(await Deno.readTextFile(`${options.root}/new/deep/n.txt`), "edited\n");
  assert.equal(await Deno.readTextFile(`${options.root}/run.sh`), "#!/bin/sh\n");
  assert.equal((await Deno.lstat(`${options.root}/run.sh`)).mode! & 0o111, 0);
  // a.txt came with the first apply, whose backups the second one replaced: it stays.
  assert.equal(byPath.get("a.txt"), undefined);
  assert.equal(await Deno.readTextFile(`${options.root}/a.txt`), "A\n");
  assert.ok((await Deno.lstat(options.undoDir)).isDirectory, "kept to retry");
});
