import assert from "node:assert/strict";
import { agentHomeArchive, AgentHomeError } from "./agent_home.ts";

Deno.test("agent home archives: one per agent, or per agent and project, under the state dir", () => {
  const user = agentHomeArchive("claude", "user", "/src/app");
  assert.match(user, /\/agentbox\/agent-homes\/claude\/home\.tar$/);
  const a = agentHomeArchive("claude", "project", "/src/app");
  const b = agentHomeArchive("claude", "project", "/src/other");
  assert.match(a, /\/agent-homes\/claude\/project-[0-9a-f]{16}\.tar$/);
  assert.notEqual(a, b);
  for (const bad of ["../x", "a/b", "", ".hidden"]) {
    assert.throws(() => agentHomeArchive(bad, "user", "/p"), AgentHomeError);
  }
});
