import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import type { DatabaseSync } from "node:sqlite";
import { logsCommand, printLogs } from "./logs.ts";
import { usageCommand } from "./usage.ts";
import { seedRequests } from "../store/testing/mod.ts";
import { UsageError } from "./errors.ts";

async function withState(
  fn: (db: DatabaseSync, lines: string[]) => Promise<void> | void,
): Promise<void> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  const db = openDatabase(":memory:");
  try {
    seedRequests(db);
    await fn(db, lines);
  } finally {
    console.log = log;
    db.close();
  }
}

Deno.test("logs prints every request, escapes control characters, and --json round-trips", async () => {
  await withState(async (db, lines) => {
    assert.equal(await printLogs({ db }, ["abcdef"], { follow: false, json: false }), 0);
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /abcdef12 allow 200 CONNECT https:\/\/a\.test:443 up 5 down 50 \(allow\)/,
    );
    assert.ok(!lines[1].includes("\x1b") && lines[1].includes("evil\\x1b[2J.test"));
    lines.length = 0;
    assert.equal(await printLogs({ db }, [], { follow: false, json: true }), 0);
    assert.equal(JSON.parse(lines[0]).bytesDown, 50);
    await assert.rejects(printLogs({ db }, ["nosuch"], { follow: false, json: false }), UsageError);
  });
});

Deno.test("logs and usage print their help", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    assert.equal(await logsCommand(["--help"]), 0);
    assert.equal(await usageCommand(["-h"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /agentbox logs \[SESSION\]/);
  assert.match(lines[1], /agentbox usage \[SESSION\]/);
});
