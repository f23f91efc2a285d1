import assert from "node:assert/strict";
import {
  baselineEntry,
  baselineRoot,
  readBaseline,
  readBaselineRecords,
  sameAsBaseline,
  takeBaseline,
  walkTree,
  writeBaseline,
  writeWalk,
} from "./baseline.ts";
import { planDelta } from "./share_layers.ts";
import { shareExclude } from "./share_exclude.ts";
import { ChangesetError } from "./changeset.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("takeBaseline records files, dirs and symlinks without following links", async () => {
  await withTemp(async (dir) => {
    await Deno.mkdir(`${dir}/src/deep`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/deep/a.ts`, "hello");
    await Deno.writeTextFile(`${dir}/run.sh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.chmod(`${dir}/run.sh`, 0o755);
    await Deno.symlink("/etc", `${dir}/etc-link`);
    await Deno.writeTextFile(`${dir}/__proto__`, "");
    await Deno.mkdir(`${dir}/bad\nname`);
    await Deno.writeTextFile(`${dir}/bad\nname/hidden`, "");
    const baseline = await takeBaseline(dir);
    assert.equal(baseline.root, await Deno.realPath(dir));
    assert.deepEqual(Object.keys(baseline.entries).sort(), [
      "__proto__",
      "etc-link",
      "run.sh",
      "src",
      "src/deep",
      "src/deep/a.ts",
    ]);
    assert.equal(baseline.entries["etc-link"].type, "symlink");
    assert.equal(baseline.entries["run.sh"].mode, 0o755);
    assert.equal(baseline.entries["src/deep/a.ts"].size, 5);
    assert.equal(baseline.entries["__proto__"].type, "file");
    const info = await Deno.lstat(`${dir}/src/deep/a.ts`);
    assert.ok(sameAsBaseline(baseline.entries["src/deep/a.ts"], info));
    await Deno.writeTextFile(`${dir}/src/deep/a.ts`, "changed!");
    assert.ok(
      !sameAsBaseline(baseline.entries["src/deep/a.ts"], await Deno.lstat(`${dir}/src/deep/a.ts`)),
    );
  });
});

Deno.test("takeBaseline's facts are lstat's, for odd names, modes and types; excluded directories are pruned", async () => {
  await withTemp(async (dir) => {
    await Deno.mkdir(`${dir}/a b/c  d`, { recursive: true });
    await Deno.writeTextFile(`${dir}/a b/c  d/ünï cødé 名.txt`, "x".repeat(70_000));
    await Deno.writeTextFile(`${dir}/setuid`, "");
    await Deno.chmod(`${dir}/setuid`, 0o4755);
    await Deno.mkdir(`${dir}/sticky`);
    await Deno.chmod(`${dir}/sticky`, 0o1777);
    await Deno.symlink("a b", `${dir}/link to dir`);
    await Deno.utime(`${dir}/setuid`, 1_700_000_000.987654, 1_700_000_000.987654);
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(fifo.success);
    // A name that is not UTF-8 is left out with everything under it.
    const bad = new Uint8Array([...new TextEncoder().encode(`${dir}/bad-`), 0xff]);
    const made = await new Deno.Command("sh", {
      args: ["-c", 'mkdir "$1" && touch "$1/inside"', "sh", new TextDecoder().decode(bad)],
    }).output();
    assert.ok(made.success);
    for (let i = 0; i < 30; i++) {
      await Deno.mkdir(`${dir}/web/node_modules/p${i}`, { recursive: true });
    }
    await Deno.writeTextFile(`${dir}/debug.log`, "");

    const baseline = await takeBaseline(dir);
    const paths = Object.keys(baseline.entries).sort();
    assert.ok(!paths.some((p) => p.startsWith("bad-")), paths.join(", "));
    for (const path of paths) {
      assert.deepEqual(
        baseline.entries[path],
        baselineEntry(Deno.lstatSync(`${dir}/${path}`)),
        path,
      );
    }
    assert.equal(baseline.entries["fifo"].type, "other");
    assert.equal(baseline.entries["setuid"].mode, 0o4755);
    assert.equal(baseline.entries["sticky"].mode, 0o1777);
    assert.equal(baseline.entries["setuid"].mtimeMs, 1_700_000_000_987);

    const excluded: string[] = [];
    const pruned = await takeBaseline(dir, {
      exclude: shareExclude(["node_modules/", "*.log"]),
      onExcluded: (path) => excluded.push(path),
    });
    assert.deepEqual(excluded.sort(), ["debug.log", "web/node_modules"]);
    assert.deepEqual(
      Object.keys(pruned.entries).sort(),
      paths.filter((p) => !p.startsWith("web/node_modules") && p !== "debug.log"),
    );
    // With a negation nothing is pruned by name, and the result is the same.
    const negated = await takeBaseline(dir, {
      exclude: shareExclude(["node_modules/", "*.log", "!keep.log"]),
    });
    assert.deepEqual(Object.keys(negated.entries).sort(), Object.keys(pruned.entries).sort());
  });
});

Deno.test("writeBaseline and readBaseline round-trip; a corrupt baseline is refused", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "x");
    const baseline = await takeBaseline(dir);
    await writeBaseline(`${dir}/baseline.json`, baseline);
    assert.deepEqual(await readBaseline(`${dir}/baseline.json`), baseline);
    assert.equal((await Deno.stat(`${dir}/baseline.json`)).mode! & 0o777, 0o600);
    const corrupt = [
      "not json",
      "[]",
      JSON.stringify({ ...baseline, root: "relative" }),
      JSON.stringify({ ...baseline, entries: { "../x": baseline.entries.f } }),
      JSON.stringify({ ...baseline, entries: { f: { type: "pipe" } } }),
    ];
    for (const text of corrupt) {
      await Deno.writeTextFile(`${dir}/bad.json`, text);
      await assert.rejects(readBaseline(`${dir}/bad.json`), ChangesetError, text);
    }
    await assert.rejects(readBaseline(`${dir}/missing.json`), ChangesetError);
  });
});

Deno.test("takeBaseline walks a 100k-file tree quickly", async () => {
  await withTemp(async (dir) => {
    for (let d = 0; d < 100; d++) {
      await Deno.mkdir(`${dir}/d${d}/sub`, { recursive: true });
      for (let f = 0; f < 1000; f++) Deno.writeFileSync(`${dir}/d${d}/sub/f${f}`, new Uint8Array());
    }
    const start = performance.now();
    const baseline = await takeBaseline(dir);
    const seconds = (performance.now() - start) / 1000;
    console.log(`baseline of 100,200 entries: ${seconds.toFixed(2)} s`);
    assert.equal(Object.keys(baseline.entries).length, 100_200);
    assert.ok(seconds < 20, `took ${seconds} s`);
  });
});

Deno.test("baseline files: a walk's records round-trip; the JSON format before is still read", async () => {
  await withTemp(async (dir) => {
    await Deno.mkdir(`${dir}/tree/sub dir`, { recursive: true });
    await Deno.writeTextFile(`${dir}/tree/sub dir/a b.txt`, "x");
    await Deno.symlink("nowhere", `${dir}/tree/link`);
    const walk = await walkTree(`${dir}/tree`);
    await writeWalk(`${dir}/baseline.json`, walk);
    const read = await readBaselineRecords(`${dir}/baseline.json`);
    assert.deepEqual(read, { root: walk.root, takenAt: walk.takenAt, records: walk.records });
    const baseline = await readBaseline(`${dir}/baseline.json`);
    assert.deepEqual(
      baseline,
      await takeBaseline(`${dir}/tree`).then((b) => ({ ...b, takenAt: walk.takenAt })),
    );
    assert.equal(baseline.entries["sub dir/a b.txt"].size, 1);
    assert.equal(await baselineRoot(`${dir}/baseline.json`), walk.root);
    // A session's baseline.json from before records: one JSON object.
    const old = { root: walk.root, takenAt: 5, entries: baseline.entries };
    await Deno.writeTextFile(`${dir}/old.json`, JSON.stringify(old));
    assert.deepEqual(await readBaseline(`${dir}/old.json`), old);
    assert.equal(await baselineRoot(`${dir}/old.json`), walk.root);
    // ...which the cache's reader does not take (the tree is packed whole again instead).
    assert.equal(await readBaselineRecords(`${dir}/old.json`), undefined);
    // Corrupt format-2 files are refused.
    const header = `agentbox-baseline 2\n${JSON.stringify({ root: walk.root, takenAt: 1 })}\n`;
    for (
      const text of [
        `${header}f 644 1 1.0 2 a`, // no NUL at the end
        `${header}f 644 1 1.0 2 ../a\0`,
        `${header}f 9z 1 1.0 2 a\0`,
        `${header}f 644 1 1.0 2 a\0f 644 1 1.0 3 a\0`, // twice
        `agentbox-baseline 2\n{"root":"relative","takenAt":1}\n`,
      ]
    ) {
      await Deno.writeTextFile(`${dir}/bad.json`, text);
      await assert.rejects(readBaseline(`${dir}/bad.json`), ChangesetError, text);
    }
  });
});

Deno.test("walks compared: a same-size edit in place, additions, deletions and a chmod are found", async () => {
  await withTemp(async (dir) => {
    for (const name of ["same", "edit", "gone", "mode"]) {
      await Deno.writeTextFile(`${dir}/${name}`, "12345");
    }
    const before = await walkTree(dir);
    // Edit in place, same size; the mtime is all that tells (set well apart, as a coarse clock
    // could leave it equal).
    const file = await Deno.open(`${dir}/edit`, { write: true });
    await file.write(new TextEncoder().encode("54321"));
    file.close();
    await Deno.utime(`${dir}/edit`, 1_000_000, 1_000_000);
    await Deno.remove(`${dir}/gone`);
    await Deno.chmod(`${dir}/mode`, 0o755);
    await Deno.mkdir(`${dir}/new`);
    await Deno.writeTextFile(`${dir}/new/file`, "n");
    const after = await walkTree(dir);
    assert.notEqual(after.digest, before.digest);
    const plan = planDelta(before.records, after.records)!;
    assert.deepEqual(plan.changed, ["edit", "mode", "new", "new/file"]);
    assert.deepEqual(plan.whiteouts, ["gone"]);
    // An unchanged tree walks to the same digest and records.
    const again = await walkTree(dir);
    assert.equal(again.digest, after.digest);
    assert.deepEqual(planDelta(after.records, again.records)?.changed, []);
  });
});
