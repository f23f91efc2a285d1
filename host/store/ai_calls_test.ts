import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { aiUsage, insertAiCall, listAiCalls } from "./ai_calls.ts";
import { openDatabase } from "./database.ts";
import { MIGRATIONS } from "./migrations.ts";
import { beginRequest } from "./requests.ts";
import { createSession } from "./sessions.ts";

Deno.test("ai_calls: a version-1 database gains the table and keeps its rows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/agentbox.db`;
    const old = new DatabaseSync(path);
    old.exec(MIGRATIONS[0]);
    old.exec("PRAGMA user_version = 1");
    old.exec("INSERT INTO sessions (id, started_at) VALUES ('old', 1)");
    old.close();
    const db = openDatabase(path);
    assert.equal(
      (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      MIGRATIONS.length,
    );
    insertAiCall(db, {
      session: "old",
      startedAt: 5,
      provider: "openai",
      host: "api.openai.com",
      streamed: false,
      latencyMs: 1,
    });
    assert.equal(listAiCalls(db, { session: "old" }).length, 1);
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ai_calls: insert, list and totals by model, host and session", () => {
  const db = openDatabase(":memory:");
  const a = createSession(db, { id: "session-a" }).id;
  const b = createSession(db, { id: "session-b" }).id;
  const requestId = beginRequest(db, {
    session: a,
    method: "POST",
    scheme: "http",
    host: "api.anthropic.com",
    port: 80,
    decision: "allow",
    rule: "allow",
  });
  const base = { startedAt: Date.now(), streamed: true, status: 200 };
  insertAiCall(db, {
    ...base,
    session: a,
    requestId,
    provider: "anthropic",
    host: "api.anthropic.com",
    model: "claude-sonnet-4-5",
    inputTokens: 325,
    outputTokens: 15,
    cacheReadTokens: 300,
    cacheCreationTokens: 0,
    latencyMs: 100.4,
  });
  insertAiCall(db, {
    ...base,
    session: b,
    provider: "anthropic",
    host: "api.anthropic.com",
    model: "claude-sonnet-4-5",
    inputTokens: 10,
    outputTokens: 5,
    latencyMs: 300,
  });
  insertAiCall(db, {
    ...base,
    session: b,
    provider: "openai",
    host: "api.openai.com",
    status: 429,
    latencyMs: 20,
    usageError: "no_usage",
    inputTokens: -1,
  });
  const rows = listAiCalls(db);
  assert.equal(rows.length, 3);
  assert.equal(rows[0].requestId, requestId);
  assert.equal(rows[0].latencyMs, 100);
  assert.equal(rows[0].streamed, true);
  assert.equal(rows[2].inputTokens, null, "invalid counts are stored as unknown");
  assert.deepEqual(aiUsage(db, { by: "model" }), [
    {
      key: "claude-sonnet-4-5",
      calls: 2,
      failed: 0,
      unmetered: 0,
      inputTokens: 335,
      outputTokens: 20,
      cacheReadTokens: 300,
      cacheCreationTokens: 0,
      avgLatencyMs: 200,
    },
    {
      key: null,
      calls: 1,
      failed: 1,
      unmetered: 1,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      avgLatencyMs: 20,
    },
  ]);
  assert.deepEqual(aiUsage(db, { by: "host" }).map((r) => [r.key, r.calls]), [
    ["api.anthropic.com", 2],
    ["api.openai.com", 1],
  ]);
  assert.deepEqual(aiUsage(db, { by: "session" }).map((r) => [r.key, r.inputTokens]), [
    ["session-a", 325],
    ["session-b", 10],
  ]);
  assert.deepEqual(aiUsage(db, { by: "model", session: b }).map((r) => r.calls), [1, 1]);
  db.close();
});
