import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import type { DatabaseSync } from "node:sqlite";
import { formatRequest } from "./logs.ts";
import { printRequests, requestsCommand } from "./requests.ts";
import { usageCommand } from "./usage.ts";
import { seedRequests } from "../store/testing/mod.ts";
import type { AgentboxError } from "../api/errors.ts";

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

Deno.test("requests prints every request, escapes control characters, and --json round-trips", async () => {
  await withState(async (db, lines) => {
    assert.equal(await printRequests({ db }, ["abcdef"], { follow: false, json: false }), 0);
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /abcdef12 allow 200 CONNECT https:\/\/a\.test:443 up 5 down 50 \(allow\)/,
    );
    assert.ok(!lines[1].includes("\x1b") && lines[1].includes("evil\\x1b[2J.test"));
    lines.length = 0;
    assert.equal(await printRequests({ db }, [], { follow: false, json: true }), 0);
    assert.equal(JSON.parse(lines[0]).bytesDown, 50);
    await assert.rejects(
      printRequests({ db }, ["nosuch"], { follow: false, json: false }),
      (error: AgentboxError) => error.kind === "not_found" && error.code === "session_unknown",
    );
  });
});

Deno.test("requests and usage print their help", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    assert.equal(await requestsCommand(["--help"]), 0);
    assert.equal(await usageCommand(["-h"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines[0], /agentbox requests \[SESSION\]/);
  assert.match(lines[1], /agentbox usage \[SESSION\]/);
});

Deno.test("the log marks an inspected tunnel as transport and says where a credential was injected", () => {
  const base = {
    session: "0f3c2a9e77",
    startedAt: 0,
    scheme: "https" as const,
    host: "ai.test",
    port: 443,
    decision: "allow" as const,
    status: 200,
    durationMs: 5,
  };
  const tunnel = formatRequest({
    ...base,
    id: 1,
    kind: "tunnel",
    method: "CONNECT",
    path: null,
    rule: "allow; inspected",
    bytesUp: 900,
    bytesDown: 9000,
    credential: null,
  });
  assert.match(
    tunnel,
    /0f3c2a9e allow 200 CONNECT tunnel https:\/\/ai\.test:443 up 900 down 9000 \(/,
  );
  const request = formatRequest({
    ...base,
    id: 2,
    kind: "request",
    method: "POST",
    path: "/v1/messages",
    rule: "allow",
    bytesUp: 2,
    bytesDown: 70,
    credential: "x-api-key",
  });
  assert.match(
    request,
    /allow 200 POST https:\/\/ai\.test:443\/v1\/messages up 2 down 70 credential x-api-key injected \(allow\)$/,
  );
});
