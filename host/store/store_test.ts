import { DatabaseSync } from "node:sqlite";
import assert from "node:assert/strict";
import { openDatabase } from "./database.ts";
import { MIGRATIONS } from "./migrations.ts";
import { beginRequest, finishRequest, listRequests, usageByHost } from "./requests.ts";
import { createSession, endSession, findSession, recentSessions } from "./sessions.ts";

const WRITER = new URL("./testing/writer.ts", import.meta.url).pathname;

async function withTempDb(fn: (path: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/sub/agentbox.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function writer(path: string, session: string, count: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", WRITER, path, session, String(count)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("store: WAL mode, schema version, sessions and requests round-trip", async () => {
  await withTempDb((path) => {
    const db = openDatabase(path);
    assert.equal(
      (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      "wal",
    );
    assert.equal(
      (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      MIGRATIONS.length,
    );
    const s = createSession(db, { id: "s-1234", tool: "claude" });
    const start = { session: s.id, scheme: "https" as const, host: "a.test", port: 443, rule: "r" };
    const ok = beginRequest(db, { ...start, method: "CONNECT", decision: "allow" });
    finishRequest(db, ok, { status: 200, bytesUp: 10, bytesDown: 1000, durationMs: 5.4 });
    beginRequest(db, { ...start, method: "GET", decision: "deny", path: "/x".repeat(5000) });
    endSession(db, s.id);
    const rows = listRequests(db, { session: s.id });
    assert.equal(rows.length, 2);
    assert.equal(rows[0].bytesDown, 1000);
    assert.equal(rows[0].durationMs, 5);
    assert.equal(rows[1].path?.length, 2048);
    assert.deepEqual(listRequests(db, { afterId: ok }).map((r) => r.id), [rows[1].id]);
    assert.deepEqual(usageByHost(db), [
      {
        host: "a.test",
        requests: 2,
        denied: 1,
        bytesUp: 10,
        bytesDown: 1000,
        tunnels: 0,
        tunnelBytesUp: 0,
        tunnelBytesDown: 0,
      },
    ]);
    assert.equal(findSession(db, "s-12")?.tool, "claude");
    assert.notEqual(findSession(db, "s-1234")?.endedAt, null);
    assert.equal(findSession(db, "s_"), undefined);
    db.close();
    // Re-opening an up-to-date database migrates nothing and keeps the rows.
    assert.equal(listRequests(openDatabase(path)).length, 2);
  });
});

Deno.test("store: migrating an older database marks its inspected tunnels as transport", async () => {
  await withTempDb((path) => {
    // A database as the version before `kind` left it: one inspected tunnel, its request, and
    // an opaque tunnel.
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")));
    const old = new DatabaseSync(path);
    old.exec(MIGRATIONS.slice(0, 3).join(";\n"));
    old.exec("PRAGMA user_version = 3");
    old.exec(`INSERT INTO sessions (id, started_at) VALUES ('s-old', 1)`);
    const insert = old.prepare(
      `INSERT INTO requests (session_id, started_at, method, scheme, host, port, decision, rule,
                             bytes_up, bytes_down)
       VALUES ('s-old', 1, ?, 'https', ?, 443, 'allow', ?, ?, ?)`,
    );
    insert.run(
      "CONNECT",
      "a.test",
      'allow "a.test" (--allow in command line); inspected',
      900,
      9000,
    );
    insert.run("GET", "a.test", 'allow "a.test" (--allow in command line)', 0, 7000);
    insert.run("CONNECT", "b.test", 'allow "b.test" (--allow in command line)', 50, 500);
    old.close();
    const db = openDatabase(path);
    assert.deepEqual(listRequests(db).map((r) => [r.method, r.kind, r.credential]), [
      ["CONNECT", "tunnel", null],
      ["GET", "request", null],
      ["CONNECT", "request", null],
    ]);
    assert.deepEqual(
      usageByHost(db).map((u) => [u.host, u.requests, u.bytesDown, u.tunnels, u.tunnelBytesDown]),
      [["a.test", 1, 7000, 1, 9000], ["b.test", 1, 500, 0, 0]],
    );
    db.close();
  });
});

Deno.test("store: recentSessions lists the newest first", () => {
  const db = openDatabase(":memory:");
  try {
    for (const id of ["old", "new", "same-ms"]) createSession(db, { id });
    db.prepare("UPDATE sessions SET started_at = 1 WHERE id = 'old'").run();
    db.prepare("UPDATE sessions SET started_at = 5 WHERE id IN ('new', 'same-ms')").run();
    assert.deepEqual(recentSessions(db).map((s) => s.id), ["same-ms", "new", "old"]);
    assert.deepEqual(recentSessions(db, 1).map((s) => s.id), ["same-ms"]);
  } finally {
    db.close();
  }
});

Deno.test("store: four processes write at once without losing a row", async () => {
  await withTempDb(async (path) => {
    openDatabase(path).close();
    const children = ["w1", "w2", "w3", "w4"].map((s) => writer(path, s, 150));
    const results = await Promise.all(children.map((c) => c.output()));
    for (const r of results) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const db = openDatabase(path);
    for (const s of ["w1", "w2", "w3", "w4"]) {
      assert.equal(listRequests(db, { session: s }).length, 150, s);
    }
    db.close();
  });
});

Deno.test("store: SIGKILL mid-write keeps every committed row and passes integrity_check", async () => {
  await withTempDb(async (path) => {
    openDatabase(path).close();
    const child = writer(path, "killed", 0);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (seen.split("\n").length < 200) seen += (await reader.read()).value ?? "";
    child.kill("SIGKILL");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    await child.status;
    await child.stderr.cancel();
    const acknowledged = seen.split("\n").filter((l) => l !== "").map(Number);
    // Restart: a fresh writer on the same file, as a restarted proxy would.
    const again = await writer(path, "restarted", 5).output();
    assert.equal(again.code, 0);
    const db = openDatabase(path);
    assert.equal(
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    const stored = new Set(listRequests(db, { session: "killed" }).map((r) => r.id));
    assert.ok(acknowledged.length >= 199);
    for (const id of acknowledged) assert.ok(stored.has(id), `row ${id} lost`);
    assert.ok(stored.size - acknowledged.length <= 1, "at most the request in flight is extra");
    assert.equal(listRequests(db, { session: "restarted" }).length, 5);
    db.close();
  });
});
