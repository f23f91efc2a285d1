/**
 * The user's agent settings in `config.toml`: `[agents.NAME]` adds an agent profile (or extends a
 * built-in one) — the hosts it may reach, the home paths kept across runs, its environment, its
 * credential presets and its endpoint variable — and `[agent_home] scope` says whether an agent's
 * home is kept per user (the default), per project, or not at all. User-only keys: a project's
 * `.agentbox.toml` is writable by the sandbox, so these tables there are refused.
 *
 * @module
 */

import { configDir } from "../paths.ts";
import {
  AGENT_NAME,
  AGENT_PRESETS,
  type AgentHost,
  type AgentPreset,
  HOME_PATH,
} from "./agent_presets.ts";
import { ConfigError } from "./config_error.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import { checkKeys, hostRule, optionalString, strings, table, type Where } from "./toml_values.ts";
import { readConfigToml } from "./vm_settings.ts";
import { refuseUserOnlyTables } from "./user_only_tables.ts";

const AGENT_KEYS = ["hosts", "home", "env", "credentials", "base_url_env"];
const HOME_KEYS = ["scope"];
const SCOPES = ["user", "project", "off"] as const;

/** `[agent_home] scope`. */
export type AgentHomeSetting = typeof SCOPES[number];

/** The agent profiles in effect and where their homes are kept. */
export interface AgentSettings {
  presets: Record<string, AgentPreset>;
  homeScope: AgentHomeSetting;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The built-in agent profiles with the user's `[agents.*]` applied, and `[agent_home]`. Throws
 * {@linkcode ConfigError} for a bad value or an unknown key, or for these tables in the
 * project's file.
 *
 * @example
 * ```ts
 * import { loadAgentSettings } from "./agent_config.ts";
 * const { presets, homeScope } = await loadAgentSettings({ projectDir: Deno.cwd() });
 * console.log(Object.keys(presets), homeScope);
 * ```
 */
export async function loadAgentSettings(
  options: { userFile?: string; projectDir?: string } = {},
): Promise<AgentSettings> {
  if (options.projectDir !== undefined) {
    await refuseUserOnlyTables(options.projectDir, ["agents", "agent_home"]);
  }
  const file = options.userFile ?? `${configDir()}/config.toml`;
  const doc = await readConfigToml(file);
  const presets: Record<string, AgentPreset> = { ...AGENT_PRESETS };
  let homeScope: AgentHomeSetting = "user";
  if (!doc) return { presets, homeScope };
  const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
  if (doc.values.agent_home !== undefined) {
    const home = table(doc.values.agent_home, where("agent_home"));
    checkKeys(home, HOME_KEYS, "agent_home", where);
    if (home.scope !== undefined) {
      if (!SCOPES.includes(home.scope as AgentHomeSetting)) {
        throw new ConfigError(where("agent_home.scope"), `must be one of ${SCOPES.join(", ")}`);
      }
      homeScope = home.scope as AgentHomeSetting;
    }
  }
  if (doc.values.agents !== undefined) {
    for (const [name, value] of Object.entries(table(doc.values.agents, where("agents")))) {
      const key = `agents.${name}`;
      if (!AGENT_NAME.test(name)) throw new ConfigError(where(key), "is not a command name");
      const base = Object.hasOwn(presets, name) ? presets[name] : undefined;
      presets[name] = agentEntry(table(value, where(key)), key, where, base);
    }
  }
  return { presets, homeScope };
}

/** One `[agents.NAME]` table, added to `base` (a built-in profile) when there is one. */
function agentEntry(
  entry: Record<string, unknown>,
  key: string,
  where: Where,
  base: AgentPreset | undefined,
): AgentPreset {
  checkKeys(entry, AGENT_KEYS, key, where);
  const hosts: AgentHost[] = strings(entry.hosts, where(`${key}.hosts`)).map((host) => {
    hostRule(host, `${key}.hosts`, where(`${key}.hosts`)); // throws for a bad pattern
    return { host, purpose: "api", note: `${key}.hosts in config.toml` };
  });
  const home = strings(entry.home, where(`${key}.home`));
  for (const path of home) {
    if (!HOME_PATH.test(path)) {
      throw new ConfigError(where(`${key}.home`), `${JSON.stringify(path)}: use a path under ~`);
    }
  }
  const env: Record<string, string> = {};
  if (entry.env !== undefined) {
    for (const [name, value] of Object.entries(table(entry.env, where(`${key}.env`)))) {
      if (!ENV_NAME.test(name) || typeof value !== "string") {
        throw new ConfigError(where(`${key}.env`), `${name}: must be NAME = "string"`);
      }
      env[name] = value;
    }
  }
  const credentials = strings(entry.credentials, where(`${key}.credentials`));
  for (const name of credentials) {
    if (!Object.hasOwn(CREDENTIAL_PRESETS, name)) {
      const known = Object.keys(CREDENTIAL_PRESETS).join(", ");
      throw new ConfigError(
        where(`${key}.credentials`),
        `unknown credential preset ${JSON.stringify(name)} (known: ${known})`,
      );
    }
  }
  const baseUrlEnv = optionalString(entry.base_url_env, where(`${key}.base_url_env`));
  if (baseUrlEnv !== undefined && !ENV_NAME.test(baseUrlEnv)) {
    throw new ConfigError(where(`${key}.base_url_env`), "must be a variable name");
  }
  return {
    hosts: [...(base?.hosts ?? []), ...hosts],
    credentials: [...new Set([...(base?.credentials ?? []), ...credentials])],
    baseUrlEnv: baseUrlEnv ?? base?.baseUrlEnv,
    env: { ...base?.env, ...env },
    home: [...new Set([...(base?.home ?? []), ...home])],
    homeExclude: base?.homeExclude,
    seed: base?.seed,
    npmPackage: base?.npmPackage,
  };
}
