import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { CODEX_PROVIDER, SEEDERS } from "./agent_seed.ts";

const KEY = "agentbox-placeholder-00112233445566778899aabbccddeeff";

Deno.test("claude: onboarding done, the placeholder's suffix approved, the workspace trusted", () => {
  const existing = JSON.stringify({
    numStartups: 7,
    theme: "light",
    customApiKeyResponses: { approved: ["older-key-suffix-xxx"], rejected: [KEY.slice(-20)] },
    projects: { "/workspace": { allowedTools: ["Bash"] }, "/other": { x: 1 } },
  });
  const [file, ...rest] = SEEDERS.claude.seed({ ".claude.json": existing }, {
    workdir: "/workspace",
    env: { ANTHROPIC_API_KEY: KEY },
  });
  assert.equal(rest.length, 0);
  assert.equal(file.path, ".claude.json");
  assert.equal(file.mode, 0o600);
  const config = JSON.parse(file.contents);
  assert.equal(config.hasCompletedOnboarding, true);
  assert.equal(config.numStartups, 7, "what Claude Code wrote is kept");
  assert.equal(config.theme, "light", "the user's theme is kept");
  assert.equal(config.autoUpdates, false);
  assert.deepEqual(config.customApiKeyResponses, {
    approved: ["older-key-suffix-xxx", KEY.slice(-20)],
    rejected: [],
  });
  assert.deepEqual(config.projects["/workspace"], {
    allowedTools: ["Bash"],
    hasTrustDialogAccepted: true,
    hasCompletedProjectOnboarding: true,
  });
  assert.deepEqual(config.projects["/other"], { x: 1 });
  // Seeding twice changes nothing more.
  const again = SEEDERS.claude.seed({ ".claude.json": file.contents }, {
    workdir: "/workspace",
    env: { ANTHROPIC_API_KEY: KEY },
  });
  assert.equal(again[0].contents, file.contents);
});

Deno.test("claude: a broken or hostile .claude.json starts afresh; no key, no approval", () => {
  for (const text of ["{not json", "[1,2]", '"x"', '{"__proto__": {"polluted": true}}']) {
    const [file] = SEEDERS.claude.seed({ ".claude.json": text }, { workdir: "/w", env: {} });
    const config = JSON.parse(file.contents);
    assert.equal(config.hasCompletedOnboarding, true);
    assert.equal(config.customApiKeyResponses, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
});

Deno.test("codex: an API-key user gets the agentbox provider (no WebSocket) and a placeholder auth.json", () => {
  const files = SEEDERS.codex.seed({
    ".codex/config.toml": 'model = "gpt-5"\n[projects."/src"]\ntrust_level = "trusted"\n',
  }, {
    workdir: "/workspace",
    env: { OPENAI_API_KEY: KEY },
    baseUrl: new URL("https://gw.example.net/openai/v1/"),
  });
  assert.deepEqual(files.map((f) => f.path), [".codex/config.toml", ".codex/auth.json"]);
  // deno-lint-ignore no-explicit-any -- a parsed TOML document, looked into by key
  const config = parse(files[0].contents) as Record<string, any>;
  assert.equal(config.model, "gpt-5");
  assert.equal(config.check_for_update_on_startup, false);
  assert.equal(config.analytics.enabled, false);
  assert.equal(config.feedback.enabled, false);
  assert.equal(config.features.daemon_auto_start, false, "no app-server daemon copied into ~");
  assert.equal(config.projects["/workspace"].trust_level, "trusted");
  assert.equal(config.projects["/src"].trust_level, "trusted");
  assert.equal(config.model_provider, CODEX_PROVIDER);
  assert.deepEqual({ ...config.model_providers[CODEX_PROVIDER] }, {
    name: "OpenAI (through agentbox)",
    base_url: "https://gw.example.net/openai/v1",
    env_key: "OPENAI_API_KEY",
    wire_api: "responses",
    supports_websockets: false,
  });
  assert.deepEqual(JSON.parse(files[1].contents), { OPENAI_API_KEY: KEY });
});

Deno.test("codex: a ChatGPT login kept in the home is left alone", () => {
  const auth = JSON.stringify({ tokens: { access_token: "t" }, OPENAI_API_KEY: null });
  const files = SEEDERS.codex.seed({ ".codex/auth.json": auth }, {
    workdir: "/workspace",
    env: { OPENAI_API_KEY: KEY },
  });
  assert.deepEqual(files.map((f) => f.path), [".codex/config.toml"]);
  const config = parse(files[0].contents) as Record<string, unknown>;
  assert.equal(config.model_provider, undefined);
});

Deno.test("gemini: API-key auth, telemetry and updates off, the workspace trusted", () => {
  const files = SEEDERS.gemini.seed({
    ".gemini/settings.json": JSON.stringify({
      ui: { theme: "Dracula" },
      general: { vimMode: true },
    }),
  }, { workdir: "/workspace", env: { GEMINI_API_KEY: KEY } });
  const settings = JSON.parse(files[0].contents);
  assert.equal(settings.ui.theme, "Dracula");
  assert.equal(settings.general.vimMode, true);
  assert.equal(settings.general.disableAutoUpdate, true);
  assert.equal(settings.privacy.usageStatisticsEnabled, false);
  assert.equal(settings.telemetry.enabled, false);
  assert.equal(settings.security.auth.selectedType, "gemini-api-key");
  assert.deepEqual(JSON.parse(files[1].contents), { "/workspace": "TRUST_FOLDER" });
});
