import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { writeBaseline } from "./baseline.ts";
import { changesetPaths } from "./changeset.ts";
import { latestSessionWithChanges, sessionStateDir } from "./latest_session.ts";

Deno.test("the latest session with a changeset is picked, newer ones without are passed over", async () => {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(":memory:");
  try {
    for (
      const [id, startedAt, withChanges] of [["old", 1, true], ["mid", 2, true], [
        "new",
        3,
        false,
      ]] as const
    ) {
      createSession(db, { id, project: "/p" });
      db.prepare("UPDATE sessions SET started_at = ? WHERE id = ?").run(startedAt, id);
      if (!withChanges) continue;
      const paths = changesetPaths(sessionStateDir(id, dir));
      await Deno.mkdir(paths.changes, { recursive: true });
      await Deno.writeTextFile(paths.records, "[]");
    }
    assert.equal(
      (await latestSessionWithChanges(db, { project: "/p", sessionsDir: dir }))?.id,
      "mid",
    );
    const none = { project: "/p", sessionsDir: `${dir}/none` };
    assert.equal(await latestSessionWithChanges(db, none), undefined);
  } finally {
    db.close();
  }
});

Deno.test("session ids that are not plain names are refused as directories", () => {
  assert.throws(() => sessionStateDir("../x", "/s"));
  assert.throws(() => sessionStateDir("..", "/s"));
  assert.equal(sessionStateDir("abc-1", "/s"), "/s/abc-1");
});

Deno.test("only a session of the project is picked: started there, or sharing it", async () => {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(":memory:");
  const sessions: [string, number, string, string][] = [
    // id, started, where it was started (project), what it shared (baseline root)
    ["mine-started-here", 1, "/work/mine", "/work/mine"],
    ["mine-shared", 2, "/home/u", "/work/mine"],
    ["theirs-newest", 3, "/work/theirs", "/work/theirs"],
  ];
  try {
    for (const [id, startedAt, project, root] of sessions) {
      createSession(db, { id, project });
      db.prepare("UPDATE sessions SET started_at = ? WHERE id = ?").run(startedAt, id);
      const paths = changesetPaths(sessionStateDir(id, dir));
      await Deno.mkdir(paths.changes, { recursive: true });
      await Deno.writeTextFile(paths.records, "[]");
      await writeBaseline(paths.baseline, { root, takenAt: 0, entries: {} });
    }
    const pick = async (project: string) =>
      (await latestSessionWithChanges(db, { project, sessionsDir: dir }))?.id;
    assert.equal(await pick("/work/mine"), "mine-shared", "by the shared directory");
    assert.equal(await pick("/home/u"), "mine-shared", "by where it was started");
    assert.equal(await pick("/work/theirs"), "theirs-newest");
    assert.equal(await pick("/work/other"), undefined, "never another project's session");
  } finally {
    db.close();
  }
});
