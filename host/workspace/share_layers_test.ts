import assert from "node:assert/strict";
import { prepareShare, shareCacheKey } from "./share.ts";
import { planDelta, readChain, topBaselinePath } from "./share_layers.ts";
import { readBaseline } from "./baseline.ts";
import type { BaselineEntry } from "./changeset.ts";
import { formatRecord, type TreeRecords } from "./baseline_records.ts";

/** The records of a tree given as entries. */
const records = (entries: Record<string, BaselineEntry>): TreeRecords =>
  new Map(Object.entries(entries).map(([path, entry]) => [path, formatRecord(path, entry)]));

const file = (ino: number, size = 1): BaselineEntry => ({
  type: "file",
  mode: 0o644,
  size,
  mtimeMs: 1,
  ino,
});
const dir = (ino: number, mtimeMs = 1): BaselineEntry => ({
  type: "dir",
  mode: 0o755,
  size: 4096,
  mtimeMs,
  ino,
});

Deno.test("planDelta: changed entries, top-most whiteouts, nothing for what is unchanged", () => {
  const before = {
    "keep": dir(1),
    "keep/a": file(2),
    "gone": dir(3),
    "gone/x": file(4),
    "edit": file(5),
    "del": file(6),
    "tofile": dir(7),
    "tofile/f": file(8),
  };
  const after = {
    "keep": dir(1),
    "keep/a": file(2),
    "edit": file(5, 9),
    "tofile": file(9),
    "new": dir(10),
    "new/n": file(11, 3),
  };
  const plan = planDelta(records(before), records(after))!;
  assert.deepEqual(plan.changed, ["edit", "new", "new/n", "tofile"]);
  assert.deepEqual(plan.whiteouts.sort(), ["del", "gone"]);
  assert.equal(plan.bytes, 9 + 3 + 1);
  // A fifo is not carried by a delta: the tree is packed whole.
  const fifo = { ...file(12), type: "other" as const };
  assert.equal(planDelta(records(before), records({ ...after, fifo })), undefined);
  // An edit in place that kept the size is a change: the mtime (and only it) differs.
  const touched = planDelta(
    records(before),
    records({ ...before, edit: { ...file(5), mtimeMs: 2 } }),
  )!;
  assert.deepEqual([touched.changed, touched.whiteouts], [["edit"], []]);
  // So is a chmod, and a file replaced by another of the same size and mtime (another inode).
  const chmod = planDelta(
    records(before),
    records({ ...before, edit: { ...file(5), mode: 0o755 } }),
  )!;
  assert.deepEqual(chmod.changed, ["edit"]);
  const replaced = planDelta(records(before), records({ ...before, edit: file(99) }))!;
  assert.deepEqual(replaced.changed, ["edit"]);
  // Nothing changed: nothing to add.
  const same = planDelta(records(before), records(before))!;
  assert.deepEqual([same.changed, same.whiteouts, same.bytes], [[], [], 0]);
});

/** The erofs image at `offset` of `path`, extracted by fsck.erofs into `into`: path → type. */
async function extractLayer(path: string, offset: number, into: string) {
  const layer = `${into}.img`;
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(layer, bytes.subarray(offset));
  const out = await new Deno.Command("fsck.erofs", { args: [`--extract=${into}`, layer] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const found: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const info = Deno.lstatSync(`${d}/${e.name}`);
      found[p] = info.isCharDevice ? `whiteout ${info.rdev}` : e.isDirectory ? "dir" : "file";
      if (e.isDirectory) walk(`${d}/${e.name}`, p);
    }
  };
  walk(into, "");
  return found;
}

Deno.test("share: a change adds a delta layer holding only what changed, and whiteouts", async () => {
  const base = await Deno.makeTempDir({ prefix: "agentbox-layers-" });
  try {
    const project = `${base}/project`;
    for (let i = 0; i < 40; i++) {
      await Deno.mkdir(`${project}/d${i}`, { recursive: true });
      await Deno.writeTextFile(`${project}/d${i}/f.txt`, `${i}\n`);
    }
    const options = { cacheDir: `${base}/cache`, upperBytes: 64 * 1024 ** 2 };
    const first = await prepareShare(project, `${base}/s1`, options);
    assert.equal(first.build, "packed");
    assert.deepEqual(first.lowerLayers, []);
    const same = await prepareShare(project, `${base}/s2`, options);
    assert.equal(same.build, "cached");

    await Deno.writeTextFile(`${project}/d1/f.txt`, "edited\n");
    await Deno.remove(`${project}/d2`, { recursive: true });
    await Deno.remove(`${project}/d3/f.txt`);
    const second = await prepareShare(project, `${base}/s3`, options);
    assert.equal(second.build, "delta");
    assert.equal(second.lowerImage, first.lowerImage);
    assert.equal(second.lowerLayers.length, 1);
    const layer = await extractLayer(second.lowerImage, second.lowerLayers[0], `${base}/x`);
    assert.deepEqual(layer, {
      "d1": "dir",
      "d1/f.txt": "file",
      "d2": "whiteout 0",
      "d3": "dir",
      "d3/f.txt": "whiteout 0",
    });
    assert.equal(await Deno.readTextFile(`${base}/x/d1/f.txt`), "edited\n");
    // The session that started first still has its layers: the append did not touch them.
    const chain = await readChain(`${base}/cache/${shareCacheKey(second.root)}`);
    assert.equal(chain?.layers.length, 2);
    assert.equal(chain?.layers[1].offset, second.lowerLayers[0]);
    // The same tree again is a cache hit on the topmost layer.
    const third = await prepareShare(project, `${base}/s4`, options);
    assert.equal(third.build, "cached");
    assert.deepEqual(third.lowerLayers, second.lowerLayers);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("share: a cache hit links the topmost baseline; an excluded change adds no layer; an old cache is re-packed", async () => {
  const base = await Deno.makeTempDir({ prefix: "agentbox-layers-" });
  try {
    const project = `${base}/project`;
    await Deno.mkdir(`${project}/src`, { recursive: true });
    await Deno.writeTextFile(`${project}/src/a.ts`, "a\n");
    await Deno.writeTextFile(`${project}/debug.log`, "1\n");
    const options = {
      cacheDir: `${base}/cache`,
      upperBytes: 64 * 1024 ** 2,
      exclude: ["*.log"],
    };
    const first = await prepareShare(project, `${base}/s1`, options);
    assert.equal(first.build, "packed");
    const cache = `${base}/cache/${shareCacheKey(first.root)}`;
    const chain = (await readChain(cache))!;
    const top = topBaselinePath(cache, chain);

    // No change: the session's baseline is the topmost layer's, linked, not written again.
    const hit = await prepareShare(project, `${base}/s2`, options);
    assert.equal(hit.build, "cached");
    assert.equal((await Deno.stat(hit.baselineFile)).ino, (await Deno.stat(top)).ino);
    assert.deepEqual(
      Object.keys((await readBaseline(hit.baselineFile)).entries).sort(),
      ["src", "src/a.ts"],
    );

    // find prints something else, but only for an excluded file: the same layers, no new one.
    await Deno.writeTextFile(`${project}/debug.log`, "2 longer\n");
    const excluded = await prepareShare(project, `${base}/s3`, options);
    assert.equal(excluded.build, "cached");
    assert.deepEqual(excluded.lowerLayers, []);
    assert.equal((await readChain(cache))?.layers.length, 1);

    // A cache written before baseline records (its topmost baseline is JSON): packed again, and
    // then used.
    await Deno.writeTextFile(top, JSON.stringify({ root: first.root, takenAt: 0, entries: {} }));
    await Deno.writeTextFile(`${project}/src/a.ts`, "changed\n");
    const repacked = await prepareShare(project, `${base}/s4`, options);
    assert.equal(repacked.build, "packed");
    assert.equal((await prepareShare(project, `${base}/s5`, options)).build, "cached");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
