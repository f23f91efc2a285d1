/**
 * One session's agent, resolved: the preset of the command it runs (built in or from the user's
 * `[agents.NAME]`), with the user's API endpoint (`ANTHROPIC_BASE_URL` and the like, from `--env`
 * or else the host's environment) applied — the hosts it may reach, where its credential is
 * bound, and the environment it runs with.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { AGENT_PRESETS, type AgentPreset, allowedHosts, commandName } from "./agent_presets.ts";

/** A variable lookup (the host's environment, or a test's). */
export interface EnvLookup {
  get(name: string): string | undefined;
}

/** The agent of a session. */
export interface ResolvedAgent {
  name: string;
  preset: AgentPreset;
  /** The user's API endpoint, when its variable is set. */
  baseUrl?: URL;
  /** The hosts the agent's tool allowlist gets (api + auth; the endpoint's host replaces api). */
  allowed: string[];
  /**
   * The agent's environment in the guest: the preset's, plus the endpoint variable when it came
   * from the host's environment (`--env` reaches the guest anyway).
   */
  env: Record<string, string>;
}

/**
 * The agent `argv0` runs, or `undefined` for a command agentbox knows no profile of. `env` is the
 * sandbox's `--env`; `hostEnv` the host's environment. Throws {@linkcode ConfigError} for an
 * endpoint variable that is not an http(s) URL.
 *
 * @example
 * ```ts
 * import { resolveAgent } from "./agent_profile.ts";
 * const agent = resolveAgent("claude", {
 *   env: { ANTHROPIC_BASE_URL: "https://llm.example.com/anthropic" },
 *   hostEnv: { get: () => undefined },
 * });
 * agent?.allowed[0]; // "llm.example.com"
 * ```
 */
export function resolveAgent(
  argv0: string | undefined,
  options: {
    env?: Readonly<Record<string, string>>;
    hostEnv?: EnvLookup;
    presets?: Readonly<Record<string, AgentPreset>>;
  } = {},
): ResolvedAgent | undefined {
  const presets = options.presets ?? AGENT_PRESETS;
  const name = commandName(argv0);
  if (name === undefined || !Object.hasOwn(presets, name)) return undefined;
  const preset = presets[name];
  const env: Record<string, string> = { ...preset.env };
  let baseUrl: URL | undefined;
  const variable = preset.baseUrlEnv;
  if (variable !== undefined) {
    const fromSpec = options.env?.[variable];
    const fromHost = fromSpec === undefined
      ? (options.hostEnv ?? Deno.env).get(variable)
      : undefined;
    const value = fromSpec ?? fromHost;
    if (value !== undefined && value !== "") {
      baseUrl = parseBaseUrl(variable, value);
      if (fromHost !== undefined) env[variable] = value;
    }
  }
  return { name, preset, baseUrl, allowed: allowedHosts(preset, baseUrl?.hostname), env };
}

/** `value` of `variable` as an http(s) URL without credentials. */
function parseBaseUrl(variable: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badUrl(variable, value);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) {
    throw badUrl(variable, value);
  }
  return url;
}

function badUrl(variable: string, value: string): ConfigError {
  return new ConfigError(
    { file: "the environment", key: variable },
    `${JSON.stringify(value.slice(0, 200))} is not an http(s) URL: use https://HOST[:PORT][/PATH]`,
  );
}

/**
 * The port of `url` (its explicit one, else the scheme's default).
 *
 * @example
 * ```ts
 * import { urlPort } from "./agent_profile.ts";
 * urlPort(new URL("https://example.com")); // 443
 * ```
 */
export function urlPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}
