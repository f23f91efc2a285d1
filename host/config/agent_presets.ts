/**
 * Built-in profiles of the coding agents agentbox knows: for `agentbox run -- claude` (or codex,
 * gemini), every host the agent is known to contact and what for, the credential it sends
 * (injected at the proxy under TLS inspection), the variable that points it at another API
 * endpoint, the environment it runs with (telemetry and self-update off), where in the home it
 * keeps its configuration and state (kept across runs: agent_home.ts), how its configuration is
 * pre-seeded (agent_seed.ts), and the npm package it comes from. docs/agents.md is the user's view.
 *
 * @module
 */

/** An agent's name: a command name, also a directory name of its saved home. */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A path an agent's home may keep: relative to the guest user's home, plain names, no `..`. */
export const HOME_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * What a host is for. Only `api` and `auth` hosts are allowed by an agent's profile; `telemetry`
 * and `updates` hosts are listed so the refusals in the request log read as expected ones.
 */
export type HostPurpose = "api" | "auth" | "telemetry" | "updates";

/** One host an agent contacts. */
export interface AgentHost {
  host: string;
  purpose: HostPurpose;
  /** What the agent uses it for, for `agentbox agents list` and the docs. */
  note: string;
}

/** How an agent's configuration is pre-seeded (agent_seed.ts has one seeder per kind). */
export type SeedKind = "claude" | "codex" | "gemini";

/** What agentbox knows about one coding agent. */
export interface AgentPreset {
  /** Every host the agent is known to contact; `api` and `auth` ones are allowed. */
  hosts: readonly AgentHost[];
  /**
   * Credential presets (credential_presets.ts) added to a TLS-inspected session of this agent
   * when the host has the preset's variable set and no `[[credentials]]` entry covers its host.
   */
  credentials: readonly string[];
  /**
   * The variable that points the agent at another API endpoint (`ANTHROPIC_BASE_URL`): when the
   * user sets it (`--env`, else the host's environment), its host replaces the `api` hosts, the
   * credential is bound to it, and the guest gets the variable.
   */
  baseUrlEnv?: string;
  /** Environment of the agent in the guest (`--env` wins): telemetry and self-update off. */
  env: Readonly<Record<string, string>>;
  /** Files and directories of the agent's home kept across runs, relative to the guest home. */
  home: readonly string[];
  /**
   * Paths under `home` that are not kept (relative to the guest home): what the agent rebuilds
   * itself and would only bloat the saved home (Codex's copy of its own package).
   */
  homeExclude?: readonly string[];
  /** How its configuration is pre-seeded; absent: not at all. */
  seed?: SeedKind;
  /** The npm package that provides the command (`images build dev --agents`). */
  npmPackage?: string;
}

/**
 * Agent presets by command name.
 *
 * @example
 * ```ts
 * import { AGENT_PRESETS } from "./agent_presets.ts";
 * console.assert(AGENT_PRESETS.claude.hosts.some((h) => h.host === "api.anthropic.com"));
 * ```
 */
export const AGENT_PRESETS: Readonly<Record<string, AgentPreset>> = {
  claude: {
    hosts: [
      { host: "api.anthropic.com", purpose: "api", note: "Messages API; Console key creation" },
      { host: "platform.claude.com", purpose: "auth", note: "Console (API billing) login" },
      { host: "claude.ai", purpose: "auth", note: "Claude subscription login" },
      { host: "claude.com", purpose: "auth", note: "subscription login redirect" },
      {
        host: "http-intake.logs.us5.datadoghq.com",
        purpose: "telemetry",
        note: "error and usage logs (off: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC)",
      },
      {
        host: "statsig.anthropic.com",
        purpose: "telemetry",
        note: "feature flags and metrics of older versions (off: DISABLE_TELEMETRY)",
      },
      {
        host: "downloads.claude.ai",
        purpose: "updates",
        note: "native build's self-update (off: DISABLE_AUTOUPDATER)",
      },
      {
        host: "storage.googleapis.com",
        purpose: "updates",
        note: "release and plugin metadata (off: DISABLE_AUTOUPDATER)",
      },
    ],
    credentials: ["anthropic"],
    baseUrlEnv: "ANTHROPIC_BASE_URL",
    // No self-update (the image is read-only below the overlay), no telemetry, error reports or
    // other calls the allowlist would refuse anyway.
    env: {
      DISABLE_AUTOUPDATER: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      DISABLE_BUG_COMMAND: "1",
    },
    home: [".claude", ".claude.json"],
    seed: "claude",
    npmPackage: "@anthropic-ai/claude-code",
  },
  codex: {
    hosts: [
      { host: "api.openai.com", purpose: "api", note: "Responses API (API key)" },
      { host: "chatgpt.com", purpose: "api", note: "Codex backend of a ChatGPT subscription" },
      { host: "auth.openai.com", purpose: "auth", note: "ChatGPT login and token refresh" },
      {
        host: "ab.chatgpt.com",
        purpose: "telemetry",
        note: "experiments and analytics (off: [analytics] enabled = false)",
      },
      {
        host: "api.github.com",
        purpose: "updates",
        note: "new-release check (off: check_for_update_on_startup = false)",
      },
    ],
    credentials: ["openai"],
    // Codex itself reads its endpoint from config.toml: the seed writes it there (agent_seed.ts).
    baseUrlEnv: "OPENAI_BASE_URL",
    env: {},
    home: [".codex"],
    // Codex 0.171's TUI copies its whole package (~300 MB: the CLI and its app-server daemon)
    // here to run the daemon from; the seed turns that daemon off (agent_seed.ts), and a copy
    // made anyway is not kept.
    homeExclude: [".codex/packages"],
    seed: "codex",
    npmPackage: "@openai/codex",
  },
  gemini: {
    hosts: [
      { host: "generativelanguage.googleapis.com", purpose: "api", note: "Gemini API (API key)" },
      { host: "cloudcode-pa.googleapis.com", purpose: "api", note: "Code Assist (Google login)" },
      { host: "oauth2.googleapis.com", purpose: "auth", note: "Google login tokens" },
      { host: "accounts.google.com", purpose: "auth", note: "Google login" },
      {
        host: "play.googleapis.com",
        purpose: "telemetry",
        note: "usage statistics (off: privacy.usageStatisticsEnabled = false)",
      },
      {
        host: "registry.npmjs.org",
        purpose: "updates",
        note: "update check (off: general.disableAutoUpdate = true)",
      },
    ],
    credentials: ["google-ai"],
    baseUrlEnv: "GOOGLE_GEMINI_BASE_URL",
    env: { GEMINI_TELEMETRY_ENABLED: "false" },
    home: [".gemini"],
    seed: "gemini",
    npmPackage: "@google/gemini-cli",
  },
};

/** The purposes an agent's profile allows. */
export const ALLOWED_PURPOSES: readonly HostPurpose[] = ["api", "auth"];

/**
 * The command name of `argv0` (a path or a name).
 *
 * @example
 * ```ts
 * import { commandName } from "./agent_presets.ts";
 * commandName("/usr/local/bin/claude"); // "claude"
 * ```
 */
export function commandName(argv0: string | undefined): string | undefined {
  return argv0?.split("/").at(-1) || undefined;
}

/**
 * The preset of the command `argv0` (a path or a name) among `presets` (default the built-in
 * ones), if there is one.
 *
 * @example
 * ```ts
 * import { agentPreset } from "./agent_presets.ts";
 * agentPreset("/usr/local/bin/claude")?.npmPackage; // "@anthropic-ai/claude-code"
 * agentPreset("make"); // undefined
 * ```
 */
export function agentPreset(
  argv0: string | undefined,
  presets: Readonly<Record<string, AgentPreset>> = AGENT_PRESETS,
): AgentPreset | undefined {
  const name = commandName(argv0);
  return name !== undefined && Object.hasOwn(presets, name) ? presets[name] : undefined;
}

/**
 * The hosts `preset` allows: its `api` and `auth` hosts — with `apiHost` (from the user's base
 * URL) in place of the `api` ones when given.
 *
 * @example
 * ```ts
 * import { AGENT_PRESETS, allowedHosts } from "./agent_presets.ts";
 * allowedHosts(AGENT_PRESETS.claude, "gateway.example.com").includes("api.anthropic.com"); // false
 * ```
 */
export function allowedHosts(preset: AgentPreset, apiHost?: string): string[] {
  const hosts = preset.hosts.filter((h) =>
    h.purpose === "auth" || (h.purpose === "api" && apiHost === undefined)
  ).map((h) => h.host);
  return apiHost === undefined ? hosts : [apiHost, ...hosts];
}
