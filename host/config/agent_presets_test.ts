import assert from "node:assert/strict";
import { addAgentCredentials } from "./agent_credentials.ts";
import { AGENT_PRESETS, agentPreset, allowedHosts } from "./agent_presets.ts";
import { resolveAgent } from "./agent_profile.ts";
import { canonicalHost } from "../net/canonical_host.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import { emptyInspectSettings } from "./inspect_settings.ts";
import { loadPolicy } from "./load_config.ts";
import { decide, type Destination } from "./policy.ts";
import { ConfigError } from "./config_error.ts";

const noEnv = { get: (_: string) => undefined };
const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });

const dest = (host: string, tool?: string): Destination => ({
  host: canonicalHost(host),
  port: 443,
  kind: "connect",
  tool,
});

Deno.test("every agent host says what it is for, and credentials name known presets", () => {
  for (const [name, agent] of Object.entries(AGENT_PRESETS)) {
    assert.ok(agent.hosts.some((h) => h.purpose === "api"), `${name} has an API host`);
    for (const host of agent.hosts) {
      assert.ok(host.note.length > 0, `${name}: ${host.host} has a note`);
      assert.doesNotThrow(() => canonicalHost(host.host));
    }
    for (const c of agent.credentials) {
      assert.ok(Object.hasOwn(CREDENTIAL_PRESETS, c), `${name}: ${c}`);
    }
    assert.ok(agent.home.length > 0, `${name} keeps a home`);
  }
  assert.equal(agentPreset("/usr/bin/codex")?.npmPackage, "@openai/codex");
  assert.equal(agentPreset("toString"), undefined);
  assert.equal(agentPreset(undefined), undefined);
  // Telemetry and self-update are off through the agents' own variables.
  assert.equal(AGENT_PRESETS.claude.env.DISABLE_AUTOUPDATER, "1");
  assert.equal(AGENT_PRESETS.claude.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, "1");
  assert.equal(AGENT_PRESETS.claude.env.DISABLE_TELEMETRY, "1");
});

Deno.test("an agent's api and auth hosts are on its tool allowlist, telemetry and updates are not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const policy = await loadPolicy({ userFile: `${dir}/none.toml`, projectDir: dir });
    for (const [name, agent] of Object.entries(AGENT_PRESETS)) {
      for (const { host, purpose } of agent.hosts) {
        const verdict = decide(policy, dest(host, name)).verdict;
        if (purpose === "api" || purpose === "auth") {
          assert.equal(verdict, "allow", `${name} ${host}`);
        } else if (host !== "registry.npmjs.org") {
          assert.notEqual(verdict, "allow", `${name} ${host}`);
        }
      }
    }
    assert.equal(decide(policy, dest("platform.claude.com", "claude")).verdict, "allow");
    assert.notEqual(decide(policy, dest("api.anthropic.com", "codex")).verdict, "allow");
    assert.notEqual(decide(policy, dest("api.anthropic.com")).verdict, "allow");
    assert.notEqual(decide(policy, dest("statsig.anthropic.com", "claude")).verdict, "allow");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a base URL replaces the agent's API hosts; the default API host is then refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const agent = resolveAgent("/usr/local/bin/claude", {
      env: { ANTHROPIC_BASE_URL: "https://llm.example.com:8443/anthropic" },
      hostEnv: noEnv,
    })!;
    assert.equal(agent.baseUrl?.hostname, "llm.example.com");
    assert.deepEqual(agent.allowed, allowedHosts(AGENT_PRESETS.claude, "llm.example.com"));
    // From --env it reaches the guest anyway: not added twice.
    assert.equal(agent.env.ANTHROPIC_BASE_URL, undefined);
    const policy = await loadPolicy({ userFile: `${dir}/none.toml`, projectDir: dir, agent });
    assert.equal(decide(policy, dest("llm.example.com", "claude")).verdict, "allow");
    assert.notEqual(decide(policy, dest("api.anthropic.com", "claude")).verdict, "allow");
    assert.equal(decide(policy, dest("platform.claude.com", "claude")).verdict, "allow");
    // Other agents keep their defaults.
    assert.equal(decide(policy, dest("api.openai.com", "codex")).verdict, "allow");

    // From the host's environment, the variable is forwarded to the guest.
    const fromHost = resolveAgent("codex", {
      hostEnv: env({ OPENAI_BASE_URL: "https://gw.example.net/v1" }),
    })!;
    assert.equal(fromHost.env.OPENAI_BASE_URL, "https://gw.example.net/v1");
    assert.deepEqual(fromHost.allowed, ["gw.example.net", "auth.openai.com"]);

    assert.throws(
      () => resolveAgent("gemini", { env: { GOOGLE_GEMINI_BASE_URL: "ftp://x" }, hostEnv: noEnv }),
      (e) =>
        e instanceof ConfigError && /GOOGLE_GEMINI_BASE_URL.*not an http\(s\) URL/.test(e.message),
    );
    assert.equal(resolveAgent("make", { hostEnv: noEnv }), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an agent's credential is added when the host has the key, bound to its endpoint", () => {
  const settings = emptyInspectSettings();
  const claude = resolveAgent("claude", { hostEnv: noEnv });
  assert.deepEqual(addAgentCredentials(settings, claude, env({})), []);
  assert.deepEqual(addAgentCredentials(settings, undefined, env({ ANTHROPIC_API_KEY: "k" })), []);
  assert.deepEqual(
    addAgentCredentials(settings, claude, env({ ANTHROPIC_API_KEY: "k" })),
    ["anthropic"],
  );
  assert.equal(settings.credentials.length, 1);
  assert.equal(settings.credentials[0].host, "api.anthropic.com");
  assert.deepEqual(settings.credentials[0].guestEnv, ["ANTHROPIC_API_KEY"]);
  // A configured entry for the host wins: nothing is added twice.
  assert.deepEqual(addAgentCredentials(settings, claude, env({ ANTHROPIC_API_KEY: "k" })), []);

  const gateway = resolveAgent("claude", {
    env: { ANTHROPIC_BASE_URL: "https://llm.example.com:8443/anthropic" },
    hostEnv: noEnv,
  });
  const bound = emptyInspectSettings();
  assert.deepEqual(addAgentCredentials(bound, gateway, env({ ANTHROPIC_API_KEY: "k" })), [
    "anthropic",
  ]);
  assert.equal(bound.credentials[0].host, "llm.example.com");
  assert.equal(bound.credentials[0].port, 8443);
  // Never in clear text.
  const plain = resolveAgent("claude", {
    env: { ANTHROPIC_BASE_URL: "http://llm.example.com/" },
    hostEnv: noEnv,
  });
  const none = emptyInspectSettings();
  assert.deepEqual(addAgentCredentials(none, plain, env({ ANTHROPIC_API_KEY: "k" })), []);
});
