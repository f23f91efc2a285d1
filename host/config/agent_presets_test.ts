import assert from "node:assert/strict";
import { addAgentCredentials } from "./agent_credentials.ts";
import { AGENT_PRESETS, agentPreset } from "./agent_presets.ts";
import { canonicalHost } from "../net/canonical_host.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import { emptyInspectSettings } from "./inspect_settings.ts";
import { loadPolicy } from "./load_config.ts";
import { decide, type Destination } from "./policy.ts";
import { PRESETS } from "./presets.ts";

Deno.test("agent presets name known host and credential presets", () => {
  for (const [name, agent] of Object.entries(AGENT_PRESETS)) {
    for (const preset of agent.hosts) {
      assert.ok(Object.hasOwn(PRESETS, preset), `${name}: ${preset}`);
    }
    for (const c of agent.credentials) {
      assert.ok(Object.hasOwn(CREDENTIAL_PRESETS, c), `${name}: ${c}`);
    }
  }
  assert.equal(agentPreset("/usr/bin/codex")?.npmPackage, "@openai/codex");
  assert.equal(agentPreset("toString"), undefined);
  assert.equal(agentPreset(undefined), undefined);
});

Deno.test("an agent's hosts are on its tool allowlist, and only on its own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const policy = await loadPolicy({ userFile: `${dir}/none.toml`, projectDir: dir });
    const dest = (host: string, tool?: string): Destination => ({
      host: canonicalHost(host),
      port: 443,
      kind: "connect",
      tool,
    });
    assert.equal(decide(policy, dest("api.anthropic.com", "claude")).verdict, "allow");
    assert.equal(decide(policy, dest("api.openai.com", "codex")).verdict, "allow");
    assert.equal(
      decide(policy, dest("generativelanguage.googleapis.com", "gemini")).verdict,
      "allow",
    );
    assert.notEqual(decide(policy, dest("api.anthropic.com", "codex")).verdict, "allow");
    assert.notEqual(decide(policy, dest("api.anthropic.com")).verdict, "allow");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent's credential is added when the host has the key and nothing covers it", () => {
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  const settings = emptyInspectSettings();
  assert.deepEqual(addAgentCredentials(settings, "claude", env({})), []);
  assert.deepEqual(addAgentCredentials(settings, "make", env({ ANTHROPIC_API_KEY: "k" })), []);
  assert.deepEqual(
    addAgentCredentials(settings, "claude", env({ ANTHROPIC_API_KEY: "k" })),
    ["anthropic"],
  );
  assert.equal(settings.credentials.length, 1);
  assert.equal(settings.credentials[0].host, "api.anthropic.com");
  assert.deepEqual(settings.credentials[0].guestEnv, ["ANTHROPIC_API_KEY"]);
  // A configured entry for the host wins: nothing is added twice.
  assert.deepEqual(addAgentCredentials(settings, "claude", env({ ANTHROPIC_API_KEY: "k" })), []);
});
