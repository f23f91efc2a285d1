import assert from "node:assert/strict";
import { agentbox } from "../../tests/helpers.ts";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import {
  type GuestChange,
  type HostTree,
  makeHostTree,
  writeSession,
} from "../workspace/testing/fixture.ts";
import { DIFF_HELP } from "./diff.ts";

const HOST: HostTree = {
  "src/app.ts": "export const a = 1;\n",
  "notes.txt": "keep\n",
  "old.txt": "old\n",
  ".gitignore": "*.log\n",
};

const GUEST: GuestChange[] = [
  { path: "src", type: "dir" },
  { path: "src/app.ts", type: "file", content: "export const a = 2;\n" },
  { path: "notes.txt", type: "file", content: "keep\n" },
  { path: "old.txt", type: "deleted" },
  { path: "new.txt", type: "file", content: "old\n" },
  { path: "debug.log", type: "file", content: "noise\n" },
  { path: "evil.txt", type: "file", content: "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\n" },
];

/** A state directory with sessions: `withChanges` (older) and `empty` (newer, no changeset). */
async function withState(fn: (state: string, project: string) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir();
  try {
    const state = `${base}/state`;
    const project = `${base}/project`;
    await Deno.mkdir(project);
    await makeHostTree(project, HOST);
    const db = openDatabase(`${state}/agentbox/agentbox.db`);
    try {
      createSession(db, { id: "1111aaaa-with-changes" });
      createSession(db, { id: "2222bbbb-empty" });
      db.prepare("UPDATE sessions SET started_at = 1 WHERE id = '1111aaaa-with-changes'").run();
    } finally {
      db.close();
    }
    await writeSession(`${state}/agentbox/sessions/1111aaaa-with-changes`, project, GUEST);
    await fn(state, project);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function run(state: string, args: string[], cwd = `${state}/../project`) {
  const { code, stdout, stderr } = await agentbox(["diff", ...args], {
    env: { XDG_STATE_HOME: state },
    cwd,
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("agentbox diff: the latest session with changes, as a patch, escaped", async () => {
  await withState(async (state) => {
    const { code, stdout, stderr } = await run(state, []);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^diff --git a\/debug\.log b\/debug\.log\nnew file mode 100644\n/);
    assert.match(stdout, /-export const a = 1;\n\+export const a = 2;\n/);
    assert.match(stdout, /diff --git a\/old\.txt b\/old\.txt\ndeleted file mode 100644\n/);
    assert.ok(!stdout.includes("notes.txt"), "a copy-up without change is not shown");
    assert.ok(!stdout.includes("\x1b"), "no escape character reaches the terminal");
    assert.match(stdout, /\+\\x1b\]52;c;cm0gLXJmIH4=\\x07\\x1b\[2J\n/);
  });
});

Deno.test("agentbox diff: --stat, --name-only, --json, --hide-gitignored, by prefix", async () => {
  await withState(async (state) => {
    const stat = await run(state, ["1111", "--stat"]);
    assert.equal(stat.code, 0, stat.stderr);
    assert.deepEqual(stat.stdout.split("\n"), [
      " debug.log  | 1 +",
      " evil.txt   | 1 +",
      " new.txt    | 1 +",
      " old.txt    | 1 -",
      " src/app.ts | 2 +-",
      " 5 files changed, 4 insertions(+), 2 deletions(-)",
      "",
    ]);
    const names = await run(state, ["--name-only", "--hide-gitignored"]);
    assert.equal(names.stdout, "evil.txt\nnew.txt\nold.txt\nsrc/app.ts\n");
    const json = JSON.parse((await run(state, ["--json"])).stdout);
    assert.equal(json.version, 1);
    assert.equal(json.session, "1111aaaa-with-changes");
    assert.deepEqual(json.entries.map((e: { status: string }) => e.status), [
      "added",
      "added",
      "added",
      "deleted",
      "modified",
    ]);
  });
});

Deno.test("agentbox diff: clear one-line errors", async () => {
  await withState(async (state) => {
    const unknown = await run(state, ["nosuch"]);
    assert.equal(unknown.code, 125);
    assert.equal(unknown.stderr, 'agentbox: error: No single session matches "nosuch"\n');
    const empty = await run(state, ["2222"]);
    assert.equal(empty.code, 125);
    assert.match(empty.stderr, /^agentbox: error: Session 2222bbbb-emp has no workspace changes/);
    const modes = await run(state, ["--stat", "--json"]);
    assert.equal(modes.code, 125);
    assert.match(modes.stderr, /Choose one of --stat, --json/);
    const records = changesetPaths(`${state}/agentbox/sessions/1111aaaa-with-changes`).records;
    await Deno.writeTextFile(records, '[{"path":"x","type":"bogus"}]');
    const corrupt = await run(state, ["1111"]);
    assert.equal(corrupt.code, 126);
    assert.equal(
      corrupt.stderr,
      "agentbox: error: Cannot show the changes of session 1111aaaa-wit: " +
        'Changeset entry x: unknown type "bogus"\n',
    );
    await Deno.remove(records);
    const none = await run(state, []);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /No session of project .*\/project has recorded workspace changes/);
    for (const result of [unknown, empty, modes, corrupt, none]) {
      assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    }
  });
});

Deno.test("agentbox diff --help prints the help that docs/cli.md shows", async () => {
  const { code, stdout } = await run("/nonexistent", ["--help"], "/");
  assert.equal(code, 0);
  assert.equal(stdout, DIFF_HELP + "\n");
  const docs = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  assert.ok(docs.includes(DIFF_HELP), "docs/cli.md carries the exact --help text");
});

Deno.test("agentbox diff -- PATH shows only those paths, and every filter says what it hid (issue 19.4)", async () => {
  await withState(async (state, project) => {
    const some = await run(state, ["1111", "--name-only", "--", "src", "./new.txt"]);
    assert.equal(some.code, 0, some.stderr);
    assert.equal(some.stdout, "new.txt\nsrc/app.ts\n");
    assert.match(some.stderr, /3 entries not shown: 3 outside the given paths/);
    const absolute = await run(state, ["--stat", "--", `${project}/old.txt`]);
    assert.equal(absolute.stdout, " old.txt | 1 -\n 1 file changed, 1 deletion(-)\n");
    const ignored = await run(state, ["--hide-gitignored", "--", "debug.log"]);
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(
      ignored.stdout,
      "No changes shown (5 entries not shown: 1 hidden by --hide-gitignored, 4 outside the " +
        "given paths).\n",
    );
    const json = JSON.parse((await run(state, ["--json", "--hide-gitignored"])).stdout);
    assert.deepEqual(json.hidden, { gitignored: 1, byPath: 0 });
    const outside = await run(state, ["--", "/etc/passwd"]);
    assert.equal(outside.code, 125);
    assert.match(outside.stderr, /is outside the project/);
  });
});
