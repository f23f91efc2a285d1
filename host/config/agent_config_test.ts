import assert from "node:assert/strict";
import { loadAgentSettings } from "./agent_config.ts";
import { AGENT_PRESETS } from "./agent_presets.ts";
import { ConfigError } from "./config_error.ts";
import { loadPolicy } from "./load_config.ts";
import { resolveAgent } from "./agent_profile.ts";
import { canonicalHost } from "../net/canonical_host.ts";
import { decide } from "./policy.ts";

async function withFiles(
  user: string | undefined,
  project: string | undefined,
  fn: (userFile: string, projectDir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  try {
    if (user !== undefined) await Deno.writeTextFile(`${dir}/config.toml`, user);
    if (project !== undefined) await Deno.writeTextFile(`${dir}/.agentbox.toml`, project);
    await fn(`${dir}/config.toml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("[agents.NAME] adds an agent: its hosts allowed for its command, its home kept", async () => {
  const toml = `
[agent_home]
scope = "project"

[agents.aider]
hosts = ["api.openai.com", "openrouter.ai"]
home = [".aider", ".aider.conf.yml"]
env = { AIDER_ANALYTICS = "false" }
credentials = ["openai"]
base_url_env = "OPENAI_API_BASE"

[agents.claude]
home = [".config/claude"]
`;
  await withFiles(toml, undefined, async (userFile, projectDir) => {
    const settings = await loadAgentSettings({ userFile, projectDir });
    assert.equal(settings.homeScope, "project");
    const aider = settings.presets.aider;
    assert.deepEqual(aider.home, [".aider", ".aider.conf.yml"]);
    assert.deepEqual(aider.env, { AIDER_ANALYTICS: "false" });
    assert.deepEqual(aider.credentials, ["openai"]);
    assert.equal(aider.baseUrlEnv, "OPENAI_API_BASE");
    // A built-in agent is extended, not replaced.
    assert.deepEqual(settings.presets.claude.home, [
      ...AGENT_PRESETS.claude.home,
      ".config/claude",
    ]);
    assert.equal(settings.presets.claude.seed, "claude");

    const agent = resolveAgent("aider", {
      presets: settings.presets,
      hostEnv: { get: () => undefined },
    });
    const policy = await loadPolicy({ userFile, projectDir, agents: settings.presets, agent });
    const verdict = (host: string, tool: string) =>
      decide(policy, { host: canonicalHost(host), port: 443, kind: "connect", tool }).verdict;
    assert.equal(verdict("openrouter.ai", "aider"), "allow");
    assert.notEqual(verdict("openrouter.ai", "claude"), "allow");
  });
});

Deno.test("agent settings: defaults without a file; bad values and project files refused", async () => {
  await withFiles(undefined, undefined, async (userFile, projectDir) => {
    const settings = await loadAgentSettings({ userFile, projectDir });
    assert.equal(settings.homeScope, "user");
    assert.deepEqual(Object.keys(settings.presets), Object.keys(AGENT_PRESETS));
  });
  const bad: [string, RegExp][] = [
    [
      '[agent_home]\nscope = "everywhere"\n',
      /agent_home\.scope: must be one of user, project, off/,
    ],
    ['[agents.x]\nhome = ["../etc"]\n', /agents\.x\.home.*use a path under ~/],
    ['[agents.x]\nhosts = ["*"]\n', /agents\.x\.hosts/],
    ['[agents.x]\ncredentials = ["nope"]\n', /unknown credential preset "nope"/],
    ["[agents.x]\nsurprise = 1\n", /agents\.x/],
  ];
  for (const [toml, message] of bad) {
    await withFiles(toml, undefined, async (userFile) => {
      await assert.rejects(loadAgentSettings({ userFile }), (e) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, message);
        return true;
      });
    });
  }
  await withFiles(
    undefined,
    '[agents.evil]\nhosts = ["evil.example"]\n',
    async (userFile, projectDir) => {
      await assert.rejects(
        loadAgentSettings({ userFile, projectDir }),
        /\.agentbox\.toml.*agents: allowed in the user's config\.toml only/,
      );
    },
  );
});
