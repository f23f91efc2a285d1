import assert from "node:assert/strict";
import { startAgent } from "../channel/testing/in_process_agent.ts";
import type { UpperRecord } from "../workspace/changeset.ts";
import {
  basePaths,
  collectSystemChanges,
  MAX_BASE_PATHS,
  NoRootOverlayError,
  SEMANTIC_FILES,
  systemChangesetPaths,
} from "./system_changeset.ts";

Deno.test("collectSystemChanges: an agent without the root overlay says so, nothing is kept", async () => {
  await using agent = await startAgent();
  assert.ok(agent.client.hello.capabilities.includes("changes.system"));
  const dir = await Deno.makeTempDir();
  try {
    // The in-process agent runs on the host, which has no /opt/agentbox/root: the real refusal.
    await assert.rejects(collectSystemChanges(agent.client, dir), (error: unknown) => {
      assert.ok(error instanceof NoRootOverlayError);
      assert.equal(error.kind, "unavailable");
      return true;
    });
    const records = systemChangesetPaths(dir).changes.records;
    assert.equal(await Deno.lstat(records).catch(() => undefined), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("basePaths: semantic files, then /etc, then small files, then directories, bounded", () => {
  const records: UpperRecord[] = [
    { path: "opt/big", type: "file", mode: 0o644, size: 2 << 20, sha256: "" },
    { path: "opt/small", type: "file", mode: 0o644, size: 10, sha256: "" },
    { path: "srv", type: "dir", mode: 0o755 },
    { path: "etc/x.conf", type: "file", mode: 0o644, size: 10, sha256: "" },
    { path: "etc/gone", type: "deleted" },
    { path: "etc/odd", type: "unsupported", detail: "fifo" },
  ];
  assert.deepEqual(basePaths(records), [
    ...Object.values(SEMANTIC_FILES),
    "etc/x.conf",
    "etc/gone",
    "opt/small",
    "srv",
  ]);
  const many: UpperRecord[] = Array.from({ length: 10_000 }, (_, i) => ({
    path: `etc/f${i}`,
    type: "deleted",
  }));
  assert.equal(basePaths(many).length, MAX_BASE_PATHS);
});
