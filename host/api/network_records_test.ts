import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { openContext } from "./context.ts";
import { resolveSessionRef } from "./network_records.ts";

Deno.test("resolveSessionRef: an unknown session is not_found (404 from serve), as elsewhere", () => {
  using ctx = openContext({ db: openDatabase(":memory:") });
  assert.throws(
    () => resolveSessionRef(ctx, "nosuch"),
    (e: Error & { kind?: string; code?: string }) =>
      e.kind === "not_found" && e.code === "session_unknown",
  );
});
