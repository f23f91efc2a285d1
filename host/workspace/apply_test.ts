import assert from "node:assert/strict";
import { applyChangeset, ApplyError, type ApplyOptions, rollbackApply } from "./apply.ts";
import type { PathOutcome } from "./apply_plan.ts";
import { validateRecords } from "./changeset.ts";
import {
  makeCase,
  snapshot,
  takeTestBaseline,
  type TestCase,
  type TestRecord,
  writeChangeset,
  writeTree,
} from "./testing/test_tree.ts";

const BINARY = new Uint8Array([0, 255, 1, 254, 10, 13, 0, 0, 127, 128]);

const INITIAL = {
  "a.txt": "hello\n",
  "script.sh": "#!/bin/sh\necho hi\n",
  "del.txt": "bye\n",
  "keep.txt": "keep\n",
  "src/old.ts": "export const x = 1;\n",
  "gone/g.txt": "g\n",
  "gone/sub/f.txt": "f\n",
};

const CHANGES: TestRecord[] = [
  { path: "a.txt", type: "file", content: "hello world\n" },
  { path: "bin.dat", type: "file", content: BINARY },
  { path: "script.sh", type: "file", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
  { path: "del.txt", type: "deleted" },
  { path: "src", type: "dir", mode: 0o755 },
  { path: "src/old.ts", type: "deleted" },
  { path: "src/new.ts", type: "file", content: "export const x = 1;\n" },
  { path: "gone", type: "deleted" },
  { path: "new", type: "dir", mode: 0o755 },
  { path: "new/deep", type: "dir", mode: 0o750 },
  { path: "new/deep/file.txt", type: "file", content: "nested\n" },
  { path: "link", type: "symlink", target: "a.txt" },
];

/**
 * The tree the changes above should produce, built by hand: with `exactModes`, `new/deep` keeps
 * the guest's 0750; by default it gets 0777 less the umask (022 in these tests).
 */
async function expectedTree(
  withLink: boolean,
  exactModes = false,
): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir();
  await writeTree(dir, {
    "a.txt": "hello world\n",
    "script.sh": "#!/bin/sh\necho hi\n",
    "keep.txt": "keep\n",
    "src/new.ts": "export const x = 1;\n",
    "new/deep/file.txt": "nested\n",
  });
  await Deno.writeFile(`${dir}/bin.dat`, BINARY);
  await Deno.chmod(`${dir}/script.sh`, 0o755);
  await Deno.chmod(`${dir}/new/deep`, exactModes ? 0o750 : 0o755);
  if (withLink) await Deno.symlink("a.txt", `${dir}/link`);
  return await snapshot(dir);
}

async function setup(
  tree: Record<string, string | null | { link: string }>,
  changes: TestRecord[],
): Promise<{ c: TestCase; options: ApplyOptions }> {
  const c = await makeCase();
  await writeTree(c.root, tree);
  const baseline = await takeTestBaseline(c.root);
  const records = validateRecords(await writeChangeset(c.blobs, changes));
  return { c, options: { ...c, records, baseline, umask: 0o022 } };
}

function outcome(outcomes: PathOutcome[], path: string): PathOutcome {
  const found = outcomes.find((o) => o.path === path);
  assert.ok(found, `no outcome for ${path}`);
  return found;
}

Deno.test("apply reproduces the guest's tree byte for byte, symlinks included when allowed", async () => {
  const { c, options } = await setup(INITIAL, CHANGES);
  const summary = await applyChangeset({ ...options, allowSymlinks: true, exactModes: true });
  assert.equal(summary.status, "applied");
  assert.deepEqual(await snapshot(c.root), await expectedTree(true, true));
  assert.equal(summary.counts.conflict + summary.counts.refused + summary.counts.skipped, 0);
  assert.equal(outcome(summary.outcomes, "gone/sub/f.txt").result, "applied");
  assert.equal(await Deno.stat(c.journalDir).catch(() => null), null, "journal removed");
  const again = await applyChangeset({ ...options, allowSymlinks: true });
  assert.equal(again.status, "already-applied");
  assert.deepEqual(await snapshot(c.root), await expectedTree(true, true));
});

Deno.test("without --allow-symlinks the guest's symlink is skipped and reported", async () => {
  const { c, options } = await setup(INITIAL, CHANGES);
  const summary = await applyChangeset(options);
  assert.deepEqual(await snapshot(c.root), await expectedTree(false));
  assert.equal(outcome(summary.outcomes, "link").result, "skipped");
  assert.equal(summary.counts.skipped, 1);
});

Deno.test("dry run changes nothing and reports what would happen", async () => {
  const { c, options } = await setup(INITIAL, CHANGES);
  const before = await snapshot(c.root);
  const summary = await applyChangeset({ ...options, dryRun: true });
  assert.equal(summary.status, "dry-run");
  assert.equal(outcome(summary.outcomes, "a.txt").action, "write");
  assert.equal(outcome(summary.outcomes, "del.txt").action, "delete");
  assert.deepEqual(await snapshot(c.root), before);
  assert.equal(await Deno.stat(c.journalDir).catch(() => null), null);
});

Deno.test("--path restricts the apply and brings the parent directories it needs", async () => {
  const { c, options } = await setup(INITIAL, CHANGES);
  const summary = await applyChangeset({ ...options, paths: ["new/**/*.txt", "del.txt"] });
  const tree = await snapshot(c.root);
  assert.ok(tree["new/deep/file.txt"]);
  assert.equal(tree["del.txt"], undefined);
  assert.equal(tree["bin.dat"], undefined);
  assert.ok(tree["src/old.ts"]);
  assert.deepEqual(summary.outcomes.map((o) => o.path), [
    "del.txt",
    "new",
    "new/deep",
    "new/deep/file.txt",
  ]);
  const rest = await applyChangeset(options);
  assert.equal(outcome(rest.outcomes, "del.txt").reason, "already applied");
  assert.equal(outcome(rest.outcomes, "bin.dat").result, "applied");
});

Deno.test("hostile paths are refused and nothing outside the project is touched", async () => {
  const { c } = await setup({ "a.txt": "a" }, []);
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/passwd`, "root:x:0:0\n");
  const outsideBefore = await snapshot(outside);
  const raw = [
    { path: "../x", type: "deleted" },
    { path: "/etc/passwd", type: "deleted" },
    { path: "a/../../x", type: "deleted" },
    { path: "evil\nname", type: "deleted" },
    { path: "dev", type: "unsupported", detail: "character device" },
    { path: ".git/hooks/pre-commit", type: "deleted" },
  ];
  const records = [
    ...validateRecords(raw),
    ...await writeChangeset(c.blobs, [
      { path: ".git/config", type: "file", content: "[core]\nfsmonitor = evil\n" },
      { path: ".git/hooks/pre-commit", type: "file", content: "#!/bin/sh\nevil\n" },
      { path: "x", type: "symlink", target: outside },
      { path: "x/passwd", type: "file", content: "owned\n" },
    ]),
  ].filter((r, i, all) => all.findIndex((o) => o.path === r.path) === i);
  const summary = await applyChangeset({
    ...c,
    records: validateRecords(records),
    baseline: await takeTestBaseline(c.root),
    allowSymlinks: true,
    allowHighRisk: true,
  });
  for (const path of ["../x", "/etc/passwd", "a/../../x", "evil\\x0aname", "dev", "x/passwd"]) {
    assert.equal(outcome(summary.outcomes, path).result, "refused", path);
  }
  assert.match(outcome(summary.outcomes, ".git/config").reason!, /\.git/);
  assert.equal(outcome(summary.outcomes, ".git/hooks/pre-commit").result, "refused");
  assert.equal(outcome(summary.outcomes, "x").highRisk, "symlink to an absolute path");
  assert.deepEqual(await snapshot(outside), outsideBefore);
  const tree = await snapshot(c.root);
  assert.deepEqual(Object.keys(tree).sort(), ["a.txt", "x"]);
});

Deno.test("a file over a host symlink replaces the link and never writes through it", async () => {
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/target`, "outside\n");
  const { c, options } = await setup({ l: { link: `${outside}/target` } }, [
    { path: "l", type: "file", content: "guest\n" },
  ]);
  const summary = await applyChangeset(options);
  assert.equal(outcome(summary.outcomes, "l").result, "applied");
  assert.ok((await Deno.lstat(`${c.root}/l`)).isFile);
  assert.equal(await Deno.readTextFile(`${c.root}/l`), "guest\n");
  assert.equal(await Deno.readTextFile(`${outside}/target`), "outside\n");
});

Deno.test("a host directory replaced by a symlink after the baseline is never written through", async () => {
  const { c, options } = await setup({ "d/f.txt": "old\n" }, [
    { path: "d", type: "dir", mode: 0o755 },
    { path: "d/f.txt", type: "file", content: "new\n" },
    { path: "d/g.txt", type: "file", content: "new\n" },
  ]);
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/f.txt`, "outside\n");
  await Deno.rename(`${c.root}/d`, `${c.root}/d.moved`);
  await Deno.symlink(outside, `${c.root}/d`);
  const summary = await applyChangeset(options);
  assert.equal(outcome(summary.outcomes, "d/f.txt").result, "refused");
  assert.match(outcome(summary.outcomes, "d/g.txt").reason!, /d is a symlink on the host/);
  assert.deepEqual(Object.keys(await snapshot(outside)), ["f.txt"]);
  assert.equal(await Deno.readTextFile(`${outside}/f.txt`), "outside\n");
});

Deno.test("a directory swapped for a symlink during the apply is caught right before the write", async () => {
  const { c, options } = await setup({ "a.txt": "a", "d/f.txt": "old\n" }, [
    { path: "a.txt", type: "file", content: "b" },
    { path: "d/f.txt", type: "file", content: "new\n" },
  ]);
  const outside = await Deno.makeTempDir();
  const summary = await applyChangeset({
    ...options,
    beforeRename: async (index) => {
      if (index !== 0) return;
      await Deno.rename(`${c.root}/d`, `${outside}/d`);
      await Deno.symlink(`${outside}/d`, `${c.root}/d`);
    },
  });
  assert.equal(outcome(summary.outcomes, "a.txt").result, "applied");
  assert.equal(outcome(summary.outcomes, "d/f.txt").result, "refused");
  assert.equal(await Deno.readTextFile(`${outside}/d/f.txt`), "old\n");
});

Deno.test("a blob that does not match its record is refused and nothing is written", async () => {
  const { c, options } = await setup({ "a.txt": "a" }, [
    { path: "a.txt", type: "file", content: "good" },
    { path: "b.txt", type: "file", content: "good" },
  ]);
  const record = options.records.find((r) => r.path === "a.txt")!;
  assert.equal(record.type, "file");
  await Deno.writeTextFile(`${c.blobs}/${record.type === "file" ? record.sha256 : ""}`, "evil");
  const summary = await applyChangeset(options);
  assert.equal(outcome(summary.outcomes, "a.txt").result, "refused");
  assert.equal(outcome(summary.outcomes, "b.txt").result, "refused");
  assert.deepEqual(Object.keys(await snapshot(c.root)), ["a.txt"]);
  assert.equal(await Deno.readTextFile(`${c.root}/a.txt`), "a");
});

Deno.test("setuid, setgid and sticky bits are stripped and reported", async () => {
  const { c, options } = await setup({}, [
    { path: "tool", type: "file", content: "#!/bin/sh\n", mode: 0o6755 },
    { path: "tmp", type: "dir", mode: 0o1777 },
  ]);
  const summary = await applyChangeset({ ...options, exactModes: true });
  assert.equal((await Deno.lstat(`${c.root}/tool`)).mode! & 0o7777, 0o755);
  assert.equal((await Deno.lstat(`${c.root}/tmp`)).mode! & 0o7777, 0o777);
  assert.match(outcome(summary.outcomes, "tool").note!, /setuid/);
  assert.match(outcome(summary.outcomes, "tmp").note!, /sticky/);
});

Deno.test("special files on the host are never replaced or deleted, even forced", async () => {
  const { c } = await setup({}, []);
  for (const args of [["fifo", "p"], ["null", "c", "1", "3"]]) {
    const made = await new Deno.Command("mknod", {
      args: ["--", `${c.root}/${args[0]}`, ...args.slice(1)],
    })
      .output();
    assert.ok(made.success, `mknod ${args.join(" ")}`);
  }
  const records = validateRecords(
    await writeChangeset(c.blobs, [
      { path: "fifo", type: "deleted" },
      { path: "null", type: "file", content: "x" },
    ]),
  );
  const summary = await applyChangeset({
    ...c,
    records,
    baseline: await takeTestBaseline(c.root),
    force: true,
  });
  assert.equal(outcome(summary.outcomes, "fifo").result, "refused");
  assert.equal(outcome(summary.outcomes, "null").result, "refused");
  assert.ok((await Deno.lstat(`${c.root}/fifo`)).isFifo);
  assert.ok((await Deno.lstat(`${c.root}/null`)).isCharDevice);
});

Deno.test("high-risk paths need confirmation", async () => {
  const { c, options } = await setup({ "package.json": "{}" }, [
    { path: "package.json", type: "file", content: '{"scripts":{"postinstall":"evil"}}' },
    { path: ".github", type: "dir", mode: 0o755 },
    { path: ".github/workflows", type: "dir", mode: 0o755 },
    { path: ".github/workflows/ci.yml", type: "file", content: "on: push\n" },
  ]);
  const held = await applyChangeset(options);
  assert.equal(outcome(held.outcomes, "package.json").result, "skipped");
  assert.match(outcome(held.outcomes, "package.json").highRisk!, /scripts/);
  assert.equal(outcome(held.outcomes, ".github/workflows/ci.yml").result, "skipped");
  assert.equal(await Deno.readTextFile(`${c.root}/package.json`), "{}");
  const confirmed = await applyChangeset({ ...options, allowHighRisk: true });
  assert.equal(outcome(confirmed.outcomes, "package.json").result, "applied");
  assert.match(await Deno.readTextFile(`${c.root}/package.json`), /postinstall/);
});

Deno.test("host changes since the baseline are conflicts unless forced", async () => {
  const { c, options } = await setup({ "a.txt": "a\n", "b.txt": "b\n" }, [
    { path: "a.txt", type: "file", content: "guest\n" },
    { path: "b.txt", type: "deleted" },
    { path: "c.txt", type: "file", content: "guest\n" },
  ]);
  await Deno.writeTextFile(`${c.root}/a.txt`, "host edit\n");
  await Deno.writeTextFile(`${c.root}/b.txt`, "host edit\n");
  await Deno.writeTextFile(`${c.root}/c.txt`, "host new\n");
  const summary = await applyChangeset(options);
  assert.equal(summary.counts.conflict, 3);
  assert.equal(outcome(summary.outcomes, "c.txt").reason, "created on the host");
  assert.equal(await Deno.readTextFile(`${c.root}/a.txt`), "host edit\n");
  assert.equal(await Deno.readTextFile(`${c.root}/b.txt`), "host edit\n");
  assert.equal(await Deno.readTextFile(`${c.root}/c.txt`), "host new\n");
  const forced = await applyChangeset({ ...options, force: true });
  assert.equal(forced.counts.applied, 3);
  assert.equal(await Deno.readTextFile(`${c.root}/a.txt`), "guest\n");
  assert.equal(await Deno.lstat(`${c.root}/b.txt`).catch(() => null), null);
  assert.equal(await Deno.readTextFile(`${c.root}/c.txt`), "guest\n");
});

Deno.test("a deleted directory keeps files the host added, and says so", async () => {
  const { c, options } = await setup({ "gone/a.txt": "a" }, [{ path: "gone", type: "deleted" }]);
  await Deno.writeTextFile(`${c.root}/gone/host.txt`, "mine");
  const summary = await applyChangeset(options);
  assert.equal(outcome(summary.outcomes, "gone/a.txt").result, "applied");
  assert.equal(outcome(summary.outcomes, "gone").result, "skipped");
  assert.deepEqual(Object.keys(await snapshot(c.root)), ["gone", "gone/host.txt"]);
});

async function interrupted(): Promise<{ c: TestCase; options: ApplyOptions; original: unknown }> {
  const { c, options } = await setup(INITIAL, CHANGES);
  const original = await snapshot(c.root);
  let writes = 0;
  const crash = (): Promise<void> => {
    if (++writes === 3) throw new Error("simulated crash");
    return Promise.resolve();
  };
  await assert.rejects(applyChangeset({ ...options, beforeRename: crash }), ApplyError);
  assert.ok((await Deno.lstat(`${c.journalDir}/journal.jsonl`)).isFile);
  return { c, options, original };
}

Deno.test("an interrupted apply is resumed by applying again", async () => {
  const { c, options } = await interrupted();
  const summary = await applyChangeset(options);
  assert.ok(summary.resumed);
  assert.deepEqual(await snapshot(c.root), await expectedTree(false));
  assert.equal(await Deno.lstat(c.journalDir).catch(() => null), null);
});

Deno.test("an interrupted apply rolls back to the original tree, temp files included", async () => {
  const { c, original } = await interrupted();
  const tree = await snapshot(c.root);
  assert.ok(Object.keys(tree).some((p) => p.includes(".agentbox-apply-")), "a temp file was left");
  const summary = await rollbackApply(c);
  assert.equal(summary.status, "rolled-back");
  assert.deepEqual(await snapshot(c.root), original);
  assert.equal(await Deno.lstat(c.journalDir).catch(() => null), null);
  await assert.rejects(rollbackApply(c), ApplyError);
});

Deno.test("chained symlinks that leave the project are high-risk, whether the links are the guest's or the host's", async () => {
  // The guest makes both links: `a/up -> ..`, then `x -> a/up/../etc`, which reads as `a/etc`.
  const guest = await setup({ "a/keep.txt": "k\n" }, [
    { path: "a", type: "dir", mode: 0o755 },
    { path: "a/up", type: "symlink", target: ".." },
    { path: "x", type: "symlink", target: "a/up/../etc" },
    { path: "fine", type: "symlink", target: "a/keep.txt" },
  ]);
  const held = await applyChangeset({ ...guest.options, allowSymlinks: true });
  assert.equal(outcome(held.outcomes, "x").result, "skipped");
  assert.match(outcome(held.outcomes, "x").highRisk!, /outside the project through another/);
  assert.equal(outcome(held.outcomes, "a/up").result, "skipped", "a link to its parent");
  assert.equal(outcome(held.outcomes, "fine").result, "applied");
  assert.equal(await Deno.lstat(`${guest.c.root}/x`).catch(() => null), null);

  // The host already has the climbing link; the guest adds only the one that uses it.
  const host = await setup({ "b/up": { link: "../.." }, "b/f": "f\n" }, [
    { path: "y", type: "symlink", target: "b/up/etc" },
    { path: "z", type: "symlink", target: "b/f" },
  ]);
  const hostHeld = await applyChangeset({ ...host.options, allowSymlinks: true });
  assert.equal(outcome(hostHeld.outcomes, "y").result, "skipped");
  assert.ok(outcome(hostHeld.outcomes, "y").highRisk);
  assert.equal(outcome(hostHeld.outcomes, "z").result, "applied");
});

Deno.test("modes cross as git's do: only the execute bit, the umask decides the rest (issue 14.9)", async () => {
  const changes: TestRecord[] = [
    { path: "shared", type: "dir", mode: 0o777 },
    { path: "shared/same.txt", type: "file", content: "same\n", mode: 0o666 },
    { path: "run.sh", type: "file", content: "#!/bin/sh\n", mode: 0o700 },
    { path: "new.txt", type: "file", content: "n\n", mode: 0o666 },
    { path: "tool", type: "file", content: "#!/bin/sh\n", mode: 0o777 },
    { path: "open", type: "dir", mode: 0o777 },
  ];
  const tree = { "shared/same.txt": "same\n", "run.sh": "#!/bin/sh\n" };
  const { c, options } = await setup(tree, changes);
  await Deno.chmod(`${c.root}/run.sh`, 0o640);
  const moded = { ...options, baseline: await takeTestBaseline(c.root), umask: 0o027 };
  const summary = await applyChangeset(moded);
  const mode = async (p: string) => (await Deno.lstat(`${c.root}/${p}`)).mode! & 0o7777;
  assert.equal(await mode("shared"), 0o755, "the host's directory keeps its mode");
  assert.equal(await mode("shared/same.txt"), 0o644, "the host's file keeps its mode");
  assert.equal(await mode("run.sh"), 0o750, "execute added where readable, less the umask");
  assert.equal(await mode("new.txt"), 0o640);
  assert.equal(await mode("tool"), 0o750);
  assert.equal(await mode("open"), 0o750);
  assert.equal(outcome(summary.outcomes, "run.sh").note, "mode 0640 -> 0750");
  assert.match(outcome(summary.outcomes, "shared").note!, /guest's mode 0777 not applied/);
  assert.match(outcome(summary.outcomes, "new.txt").note!, /guest's mode 0666 not applied/);

  const exact = await setup(tree, changes);
  const exactSummary = await applyChangeset({ ...exact.options, exactModes: true });
  const exactMode = async (p: string) => (await Deno.lstat(`${exact.c.root}/${p}`)).mode! & 0o777;
  assert.equal(await exactMode("shared"), 0o777, "--exact-modes applies the guest's bits");
  assert.equal(await exactMode("new.txt"), 0o666);
  assert.equal(outcome(exactSummary.outcomes, "shared").note, "mode 0755 -> 0777");
});

Deno.test("deep trees and long names: entries within the host's limits apply, the rest are refused one by one", async () => {
  const { c } = await setup({ "a.txt": "a" }, []);
  const name = (i: number) => `${String(i).padStart(3, "0")}-${"n".repeat(196)}`; // 200 bytes
  const rootBytes = new TextEncoder().encode(c.root).length;
  // Directories 200 bytes deeper each: the host's 4095 bytes run out part way down.
  const changes: TestRecord[] = [{ path: "ok.txt", type: "file", content: "fine\n" }];
  let dir = "";
  for (let depth = 0; depth < 24; depth++) {
    dir = dir === "" ? name(depth) : `${dir}/${name(depth)}`;
    changes.push({ path: dir, type: "dir", mode: 0o755 });
    changes.push({ path: `${dir}/f.txt`, type: "file", content: `depth ${depth}\n` });
  }
  // What a guest reports for names the host would never take, and for paths over 4096 bytes.
  const raw = [
    ...await writeChangeset(c.blobs, changes),
    { path: `long-name-${"x".repeat(300)}`, type: "deleted" },
    { path: `${dir}/${"y".repeat(250)}`, type: "deleted" },
    { path: `${dir}/${"z".repeat(250)}`, type: "deleted" },
  ];
  const records = validateRecords(raw);
  const summary = await applyChangeset({
    ...c,
    records,
    baseline: await takeTestBaseline(c.root),
  });
  assert.equal(outcome(summary.outcomes, "ok.txt").result, "applied");
  let applied = 0;
  let refused = 0;
  let path = "";
  for (let depth = 0; depth < 24; depth++) {
    path = path === "" ? name(depth) : `${path}/${name(depth)}`;
    const file = `${path}/f.txt`;
    const fits = rootBytes + 1 + path.length + 1 + 64 <= 4095;
    const result = outcome(summary.outcomes, file).result;
    assert.equal(result, fits ? "applied" : "refused", `depth ${depth}`);
    if (fits) {
      assert.equal(await Deno.readTextFile(`${c.root}/${file}`), `depth ${depth}\n`);
      applied++;
    } else {
      const reason = outcome(summary.outcomes, file).reason!;
      // Past 4096 bytes the path itself is refused; before, the host's whole path is too long.
      assert.match(reason, path.length + 6 > 4096 ? /over the 4096-byte limit/ : /for the host/);
      refused++;
    }
  }
  assert.ok(applied >= 15 && refused >= 3, `${applied} applied, ${refused} refused`);
  const longName = summary.outcomes.find((o) => o.path.startsWith("long-name-"))!;
  assert.equal(longName.result, "refused");
  assert.match(longName.reason!, /name is 310 bytes, over the 255-byte limit/);
  // Two over-long paths that share their first 512 characters stay two entries.
  const overLong = summary.outcomes.filter((o) => /[yz]{250}$/.test(o.path));
  assert.deepEqual(overLong.map((o) => o.result), ["refused", "refused"]);
});
