/**
 * Pre-seeding an agent's own configuration in the guest, so an API-key user goes straight to the
 * prompt: onboarding done, API-key auth chosen (for the key the guest holds — agentbox's
 * placeholder under TLS inspection), the workspace trusted, telemetry and self-update off in the
 * agent's own settings. Pure: the existing files (from the persistent agent home) go in, the files
 * to write come out; what the user or the agent set there is kept, only the seeded keys are set.
 *
 * The keys were read from the CLIs themselves (Claude Code 2.1, Codex 0.171, Gemini CLI's
 * documented settings); docs/agents.md lists them.
 *
 * @module
 */

import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import type { SeedKind } from "./agent_presets.ts";

/** What a seed depends on. */
export interface SeedContext {
  /** The command's working directory in the guest (the workspace), to be trusted. */
  workdir: string;
  /** The agent's environment in the guest (its API key variable holds the placeholder). */
  env: Readonly<Record<string, string>>;
  /** The user's API endpoint, when set. */
  baseUrl?: URL;
}

/** A file to write, relative to the guest user's home. */
export interface SeedFile {
  path: string;
  contents: string;
  mode: number;
}

/** One agent's seeder: which files it reads, and what it writes given their contents. */
export interface Seeder {
  /** Home-relative files whose current contents the seed merges into. */
  reads: readonly string[];
  seed(existing: Readonly<Record<string, string | undefined>>, context: SeedContext): SeedFile[];
}

/** Claude Code: `~/.claude.json`. */
const claude: Seeder = {
  reads: [".claude.json"],
  seed(existing, { workdir, env }) {
    const config = jsonObject(existing[".claude.json"]);
    config.hasCompletedOnboarding = true;
    config.theme ??= "dark";
    config.autoUpdates = false;
    const key = env.ANTHROPIC_API_KEY;
    if (key) {
      // Claude Code asks once whether to use a key from the environment and remembers the
      // answer by the key's last 20 characters (`customApiKeyResponses`).
      const responses = objectAt(config, "customApiKeyResponses");
      const suffix = key.slice(-20);
      const approved = stringList(responses.approved);
      responses.approved = approved.includes(suffix) ? approved : [...approved, suffix];
      responses.rejected = stringList(responses.rejected).filter((s) => s !== suffix);
    }
    const project = objectAt(objectAt(config, "projects"), workdir);
    project.hasTrustDialogAccepted = true;
    project.hasCompletedProjectOnboarding = true;
    return [{
      path: ".claude.json",
      contents: `${JSON.stringify(config, null, 2)}\n`,
      mode: 0o600,
    }];
  },
};

/** The Codex model provider agentbox writes for an API-key user (no WebSocket transport). */
export const CODEX_PROVIDER = "agentbox";

/** Codex: `~/.codex/config.toml` and, for an API-key user, `~/.codex/auth.json`. */
const codex: Seeder = {
  reads: [".codex/config.toml", ".codex/auth.json"],
  seed(existing, { workdir, env, baseUrl }) {
    const config = tomlObject(existing[".codex/config.toml"]);
    config.check_for_update_on_startup = false;
    objectAt(config, "analytics").enabled = false;
    objectAt(config, "feedback").enabled = false;
    // Codex 0.171's TUI otherwise first copies its own package (~400 MB) into
    // ~/.codex/packages to start an app-server daemon from: under emulation that sat at "Waiting
    // for startup" for 8 minutes and then failed on a full guest disk (docs/agents.md). Without
    // it the TUI runs its app server in its own process, as `codex exec` does.
    objectAt(config, "features").daemon_auto_start = false;
    objectAt(objectAt(config, "projects"), workdir).trust_level = "trusted";
    const files: SeedFile[] = [];
    const auth = jsonObject(existing[".codex/auth.json"]);
    const key = env.OPENAI_API_KEY;
    // A ChatGPT login made in the sandbox (tokens in auth.json) is left as it is.
    if (key && auth.tokens == null) {
      // Codex reads its endpoint from here, not from OPENAI_BASE_URL; the built-in provider
      // prefers a WebSocket transport, which a custom one does not use.
      config.model_provider = CODEX_PROVIDER;
      objectAt(config, "model_providers")[CODEX_PROVIDER] = {
        name: "OpenAI (through agentbox)",
        base_url: (baseUrl?.href ?? "https://api.openai.com/v1").replace(/\/$/, ""),
        env_key: "OPENAI_API_KEY",
        wire_api: "responses",
        supports_websockets: false,
      };
      files.push({
        path: ".codex/auth.json",
        contents: `${JSON.stringify({ ...auth, OPENAI_API_KEY: key }, null, 2)}\n`,
        mode: 0o600,
      });
    }
    files.unshift({ path: ".codex/config.toml", contents: stringifyToml(config), mode: 0o600 });
    return files;
  },
};

/** Gemini CLI: `~/.gemini/settings.json` and `~/.gemini/trustedFolders.json`. */
const gemini: Seeder = {
  reads: [".gemini/settings.json", ".gemini/trustedFolders.json"],
  seed(existing, { workdir, env }) {
    const settings = jsonObject(existing[".gemini/settings.json"]);
    const general = objectAt(settings, "general");
    general.disableAutoUpdate = true;
    general.disableUpdateNag = true;
    objectAt(settings, "privacy").usageStatisticsEnabled = false;
    objectAt(settings, "telemetry").enabled = false;
    objectAt(settings, "ui").theme ??= "Default";
    if (env.GEMINI_API_KEY) {
      objectAt(objectAt(settings, "security"), "auth").selectedType = "gemini-api-key";
    }
    const trusted = jsonObject(existing[".gemini/trustedFolders.json"]);
    trusted[workdir] = "TRUST_FOLDER";
    return [
      {
        path: ".gemini/settings.json",
        contents: `${JSON.stringify(settings, null, 2)}\n`,
        mode: 0o600,
      },
      {
        path: ".gemini/trustedFolders.json",
        contents: `${JSON.stringify(trusted, null, 2)}\n`,
        mode: 0o600,
      },
    ];
  },
};

/**
 * The seeder of each kind.
 *
 * @example
 * ```ts
 * import { SEEDERS } from "./agent_seed.ts";
 * const [file] = SEEDERS.claude.seed({}, {
 *   workdir: "/workspace",
 *   env: { ANTHROPIC_API_KEY: "agentbox-placeholder-0123456789abcdef" },
 * });
 * console.assert(JSON.parse(file.contents).hasCompletedOnboarding === true);
 * ```
 */
export const SEEDERS: Readonly<Record<SeedKind, Seeder>> = { claude, codex, gemini };

type Json = Record<string, unknown>;

/** A JSON object from text the guest wrote; anything else (or broken JSON) starts afresh. */
function jsonObject(text: string | undefined): Json {
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text);
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

function tomlObject(text: string | undefined): Json {
  if (text === undefined) return {};
  try {
    return parseToml(text) as Json;
  } catch {
    return {};
  }
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `parent[key]` as an object, made (or replacing a non-object) when needed. */
function objectAt(parent: Json, key: string): Json {
  const value = Object.hasOwn(parent, key) ? parent[key] : undefined;
  if (isObject(value)) return value;
  const made: Json = {};
  Object.defineProperty(parent, key, {
    value: made,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return made;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
