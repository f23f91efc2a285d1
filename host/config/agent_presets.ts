/**
 * Built-in presets of the coding agents agentbox knows: for `agentbox run -- claude` (or codex,
 * gemini), the hosts the tool's allowlist gets, the credential it sends (injected at the proxy
 * under TLS inspection), the environment it runs with, where it keeps its configuration, and the
 * npm package it comes from.
 *
 * @module
 */

/** What agentbox knows about one coding agent. */
export interface AgentPreset {
  /** Allowlist presets (presets.ts) of the tool's `[tools.<name>]` allowlist. */
  hosts: readonly string[];
  /**
   * Credential presets (credential_presets.ts) added to a TLS-inspected session of this tool
   * when the host has the preset's variable set and no `[[credentials]]` entry covers its host.
   */
  credentials: readonly string[];
  /** Environment of the tool in the guest (`--env` wins). */
  env: Readonly<Record<string, string>>;
  /** Where the tool keeps its configuration and state, relative to the guest user's home. */
  configPaths: readonly string[];
  /** The npm package that provides the command (`images build dev --agents`). */
  npmPackage: string;
}

/**
 * Agent presets by command name.
 *
 * @example
 * ```ts
 * import { AGENT_PRESETS } from "./agent_presets.ts";
 * console.assert(AGENT_PRESETS.claude.hosts.includes("anthropic"));
 * ```
 */
export const AGENT_PRESETS: Readonly<Record<string, AgentPreset>> = {
  claude: {
    hosts: ["anthropic"],
    credentials: ["anthropic"],
    // No self-update (the image is read-only below the overlay) and no telemetry calls that the
    // allowlist would refuse anyway.
    env: { DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
    configPaths: [".claude", ".claude.json"],
    npmPackage: "@anthropic-ai/claude-code",
  },
  codex: {
    hosts: ["openai"],
    credentials: ["openai"],
    env: {},
    configPaths: [".codex"],
    npmPackage: "@openai/codex",
  },
  gemini: {
    hosts: ["google-ai"],
    credentials: ["google-ai"],
    env: {},
    configPaths: [".gemini"],
    npmPackage: "@google/gemini-cli",
  },
};

/**
 * The preset of the command `argv0` (a path or a name), if agentbox knows it.
 *
 * @example
 * ```ts
 * import { agentPreset } from "./agent_presets.ts";
 * agentPreset("/usr/local/bin/claude")?.npmPackage; // "@anthropic-ai/claude-code"
 * agentPreset("make"); // undefined
 * ```
 */
export function agentPreset(argv0: string | undefined): AgentPreset | undefined {
  const name = argv0?.split("/").at(-1);
  return name !== undefined && Object.hasOwn(AGENT_PRESETS, name) ? AGENT_PRESETS[name] : undefined;
}
