import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { insertAiCall } from "../store/ai_calls.ts";
import { openDatabase } from "../store/database.ts";
import { seedRequests } from "../store/testing/mod.ts";
import { UsageError } from "./errors.ts";
import { printUsage, usageCommand } from "./usage.ts";

function withState(fn: (db: DatabaseSync, lines: string[]) => void, ai = true): void {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  const db = openDatabase(":memory:");
  try {
    const { session, allowedId: id } = seedRequests(db);
    if (ai) {
      const call = {
        session,
        requestId: id,
        startedAt: 1,
        host: "a.test",
        streamed: true,
        status: 200,
        latencyMs: 10,
      };
      insertAiCall(db, {
        ...call,
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        inputTokens: 325,
        outputTokens: 15,
        cacheReadTokens: 300,
        cacheCreationTokens: 0,
      });
      insertAiCall(db, {
        ...call,
        provider: "openai-compatible",
        model: "bad\x1b[2Jmodel",
        inputTokens: 9,
        outputTokens: 12,
        latencyMs: 30,
      });
      insertAiCall(db, { ...call, provider: "openai", status: 429, usageError: "no_usage" });
    }
    fn(db, lines);
  } finally {
    console.log = log;
    db.close();
  }
}

Deno.test("usage: per-host table, then AI tokens by model", () => {
  withState((db, lines) => {
    assert.equal(printUsage({ db }, [], { json: false }), 0);
    const text = lines.join("\n").split("\n");
    assert.match(text[0], /^HOST\s+REQUESTS\s+DENIED\s+BYTES UP\s+BYTES DOWN$/);
    assert.match(text[1], /^a\.test\s+1\s+0\s+5\s+50$/);
    assert.ok(
      text[2].startsWith("evil\\x1b[2J.test"),
      "control characters never reach the terminal",
    );
    assert.equal(text[3], "");
    assert.match(
      text[4],
      /^MODEL\s+CALLS\s+FAILED\s+NO USAGE\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+AVG MS$/,
    );
    assert.match(text[5], /^claude-sonnet-4-5\s+1\s+0\s+0\s+325\s+15\s+300\s+0\s+10$/);
    assert.match(text[6], /^bad\\x1b\[2Jmodel\s+1\s+0\s+0\s+9\s+12\s+0\s+0\s+30$/);
    assert.match(text[7], /^\(unknown\)\s+1\s+1\s+1\s+0\s+0\s+0\s+0\s+10$/);
  });
});

Deno.test("usage: --json carries both tables, --by groups the AI calls", () => {
  withState((db, lines) => {
    assert.equal(printUsage({ db }, ["abcdef"], { json: true, by: "host" }), 0);
    const out = JSON.parse(lines.join("\n"));
    assert.deepEqual(out.hosts[0], {
      host: "a.test",
      requests: 1,
      denied: 0,
      bytesUp: 5,
      bytesDown: 50,
    });
    assert.equal(out.hosts[1].denied, 1);
    assert.deepEqual(out.ai, {
      by: "host",
      rows: [{
        key: "a.test",
        calls: 3,
        failed: 1,
        unmetered: 1,
        inputTokens: 334,
        outputTokens: 27,
        cacheReadTokens: 300,
        cacheCreationTokens: 0,
        avgLatencyMs: 17,
      }],
    });
    lines.length = 0;
    assert.equal(printUsage({ db }, [], { json: true, by: "session" }), 0);
    assert.equal(JSON.parse(lines.join("\n")).ai.rows[0].key, "abcdef12-session");
    lines.length = 0;
    assert.equal(printUsage({ db }, ["other"], { json: false }), 0);
    assert.deepEqual(lines, ["No requests recorded."]);
  });
});

Deno.test("usage: without AI calls the output is the per-host table alone", () => {
  withState((db, lines) => {
    printUsage({ db }, [], { json: false });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0].includes("MODEL"));
  }, false);
});

Deno.test("usage: a bad --by is a usage error; --help names the options", async () => {
  await assert.rejects(usageCommand(["--by", "colour"]), UsageError);
  await assert.rejects(usageCommand(["--by"]), UsageError);
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    assert.equal(await usageCommand(["--help"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /agentbox usage \[SESSION\] \[--by model\|host\|session\] \[--json\]/);
});
