import assert from "node:assert/strict";
import { openDatabase } from "./database.ts";
import { createSession, findSession } from "./sessions.ts";
import {
  findLifecycle,
  listLifecycles,
  markRemoved,
  nameTaken,
  setSessionStatus,
} from "./session_lifecycle.ts";

Deno.test("lifecycle: booting, running, stopped; one-shot sessions are not listed", () => {
  const db = openDatabase(":memory:");
  createSession(db, { id: "oneshot" });
  const s = createSession(db, { id: "0f3c2a9e-1", lifecycle: { name: "web", ownerPid: 42 } });
  assert.deepEqual(
    listLifecycles(db).map((r) => [r.id, r.name, r.status, r.ownerPid]),
    [[s.id, "web", "booting", 42]],
  );
  setSessionStatus(db, s.id, "running", { controlSocket: "/run/x/ctl.sock" });
  setSessionStatus(db, s.id, "stopped", { detail: "the VM stopped on its own" });
  const row = findLifecycle(db, "web")!;
  assert.deepEqual([row.status, row.controlSocket, row.detail], [
    "stopped",
    "/run/x/ctl.sock",
    "the VM stopped on its own",
  ]);
  assert.equal(findLifecycle(db, "oneshot"), undefined);
});

Deno.test("lifecycle: names resolve before id prefixes, stay unique until removed", () => {
  const db = openDatabase(":memory:");
  const a = createSession(db, { id: "abc-1", lifecycle: { name: "web", ownerPid: 1 } });
  createSession(db, { id: "abd-2", lifecycle: { ownerPid: 2 } });
  createSession(db, { id: "web-3", lifecycle: { ownerPid: 3 } });
  assert.equal(findLifecycle(db, "web")?.id, a.id);
  assert.equal(findLifecycle(db, "web-")?.id, "web-3");
  assert.equal(findLifecycle(db, "ab"), undefined); // two match
  assert.equal(findLifecycle(db, "abd")?.id, "abd-2");
  assert.ok(nameTaken(db, "web"));
  assert.throws(() => createSession(db, { lifecycle: { name: "web", ownerPid: 4 } }));
  markRemoved(db, a.id);
  assert.ok(!nameTaken(db, "web"));
  assert.equal(findLifecycle(db, a.id), undefined);
  assert.ok(findSession(db, a.id), "the row stays for the request log");
  createSession(db, { lifecycle: { name: "web", ownerPid: 5 } });
});
