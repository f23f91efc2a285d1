import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
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
      createSession(db, { id });
      db.prepare("UPDATE sessions SET started_at = ? WHERE id = ?").run(startedAt, id);
      if (!withChanges) continue;
      const paths = changesetPaths(sessionStateDir(id, dir));
      await Deno.mkdir(paths.changes, { recursive: true });
      await Deno.writeTextFile(paths.records, "[]");
    }
    assert.equal((await latestSessionWithChanges(db, dir))?.id, "mid");
    assert.equal(await latestSessionWithChanges(db, `${dir}/none`), undefined);
  } finally {
    db.close();
  }
});

Deno.test("session ids that are not plain names are refused as directories", () => {
  assert.throws(() => sessionStateDir("../x", "/s"));
  assert.throws(() => sessionStateDir("..", "/s"));
  assert.equal(sessionStateDir("abc-1", "/s"), "/s/abc-1");
});
