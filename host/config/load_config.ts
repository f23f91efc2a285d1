/**
 * Read the egress policy from TOML: the user's `$XDG_CONFIG_HOME/agentbox/config.toml`, then the
 * project's `.agentbox.toml`, then command-line `--allow`/`--deny`. Lists from every source add
 * up; scalar settings (mode, ports) are taken from the last source that sets them. Any problem is
 * one {@linkcode ConfigError} naming file, line and key. Format: docs/configuration.md.
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { configDir } from "../paths.ts";
import { ConfigError } from "./config_error.ts";
import { type HostPattern, parseHostPattern } from "./host_pattern.ts";
import { keyLine } from "./key_line.ts";
import { emptyPolicy, type NetMode, type Policy, type PolicyRule } from "./policy.ts";
import { PRESETS } from "./presets.ts";

const MODES: readonly NetMode[] = ["allowlist", "open", "learn"];
const NETWORK_KEYS = ["mode", "presets", "allow", "deny", "gray", "connect_ports", "http_ports"];
const TOOL_KEYS = ["presets", "allow"];

/** Sources for {@linkcode loadPolicy}. */
export interface LoadPolicyOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine. */
  userFile?: string;
  /** Project directory holding `.agentbox.toml`; omitted means no project file. */
  projectDir?: string;
  /** `--allow` / `--deny` patterns from the command line. */
  allow?: string[];
  deny?: string[];
  /** `--net` from the command line. */
  mode?: NetMode;
}

/**
 * Load and merge every policy source. Throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import { loadPolicy } from "./load_config.ts";
 * const policy = await loadPolicy({ projectDir: Deno.cwd(), allow: ["example.com"] });
 * ```
 */
export async function loadPolicy(options: LoadPolicyOptions = {}): Promise<Policy> {
  const policy = emptyPolicy();
  const files = [options.userFile ?? `${configDir()}/config.toml`];
  if (options.projectDir !== undefined) files.push(`${options.projectDir}/.agentbox.toml`);
  for (const file of files) {
    const text = await readOptional(file);
    if (text !== undefined) applyConfigText(policy, text, file);
  }
  const cli = { file: "command line" };
  for (const p of options.allow ?? []) policy.allow.push(rule(p, "--allow", cli));
  for (const p of options.deny ?? []) policy.deny.push(rule(p, "--deny", cli));
  if (options.mode) policy.mode = options.mode;
  return policy;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError({ file }, "cannot read file", { cause: err });
  }
}

/**
 * Parse one TOML document and add its settings to `policy` (mutated). Only the `[network]` and
 * `[tools.*]` tables are read here; other top-level tables belong to other parts of agentbox.
 *
 * @example
 * ```ts
 * import { applyConfigText } from "./load_config.ts";
 * import { emptyPolicy } from "./policy.ts";
 * const policy = emptyPolicy();
 * applyConfigText(policy, '[network]\npresets = ["npm"]\n', ".agentbox.toml");
 * ```
 */
export function applyConfigText(policy: Policy, text: string, file: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    const line = err instanceof TomlError ? err.line : undefined;
    const detail = (err as Error).message.split("\n")[0];
    throw new ConfigError({ file, line }, detail, { cause: err });
  }
  const where = (key: string) => ({ file, key, line: keyLine(text, key) });
  if (doc.network !== undefined) applyNetwork(policy, table(doc.network, where("network")), where);
  if (doc.tools !== undefined) {
    for (const [name, value] of Object.entries(table(doc.tools, where("tools")))) {
      const rules = toolRules(table(value, where(`tools.${name}`)), `tools.${name}`, where);
      policy.tools.set(name, [...(policy.tools.get(name) ?? []), ...rules]);
    }
  }
}

type Where = (key: string) => { file: string; key: string; line?: number };

function applyNetwork(policy: Policy, net: Record<string, unknown>, where: Where): void {
  checkKeys(net, NETWORK_KEYS, "network", where);
  if (net.mode !== undefined) {
    if (!MODES.includes(net.mode as NetMode)) {
      throw new ConfigError(where("network.mode"), `must be one of ${MODES.join(", ")}`);
    }
    policy.mode = net.mode as NetMode;
  }
  policy.allow.push(...presetRules(net.presets, "network.presets", where));
  for (const list of ["allow", "deny", "gray"] as const) {
    policy[list].push(...patternRules(net[list], `network.${list}`, where));
  }
  if (net.connect_ports !== undefined) {
    policy.connectPorts = ports(net.connect_ports, where("network.connect_ports"));
  }
  if (net.http_ports !== undefined) {
    policy.httpPorts = ports(net.http_ports, where("network.http_ports"));
  }
}

function toolRules(tool: Record<string, unknown>, key: string, where: Where): PolicyRule[] {
  checkKeys(tool, TOOL_KEYS, key, where);
  return [
    ...presetRules(tool.presets, `${key}.presets`, where),
    ...patternRules(tool.allow, `${key}.allow`, where),
  ];
}

function presetRules(value: unknown, key: string, where: Where): PolicyRule[] {
  return strings(value, where(key)).flatMap((name) => {
    const hosts = PRESETS[name];
    if (!Object.hasOwn(PRESETS, name)) {
      const known = Object.keys(PRESETS).join(", ");
      throw new ConfigError(where(key), `unknown preset ${JSON.stringify(name)} (known: ${known})`);
    }
    const loc = where(key);
    return hosts.map((h) => rule(h, `preset ${name} via ${key}`, loc));
  });
}

function patternRules(value: unknown, key: string, where: Where): PolicyRule[] {
  const loc = where(key);
  return strings(value, loc).map((p) => rule(p, key, loc));
}

function rule(text: string, key: string, loc: { file: string; line?: number }): PolicyRule {
  let pattern: HostPattern;
  try {
    pattern = parseHostPattern(text);
  } catch (err) {
    throw new ConfigError({ ...loc, key }, (err as Error).message);
  }
  return { pattern, source: `${key} in ${loc.file}` };
}

function table(value: unknown, loc: ReturnType<Where>): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(loc, "must be a table");
  }
  return value as Record<string, unknown>;
}

function strings(value: unknown, loc: ReturnType<Where>): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new ConfigError(loc, "must be an array of strings");
  }
  return value;
}

function ports(value: unknown, loc: ReturnType<Where>): Set<number> {
  const ok = Array.isArray(value) &&
    value.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535);
  if (!ok) throw new ConfigError(loc, "must be an array of port numbers (1-65535)");
  return new Set(value as number[]);
}

function checkKeys(obj: Record<string, unknown>, known: string[], prefix: string, where: Where) {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new ConfigError(where(`${prefix}.${key}`), `unknown key (known: ${known.join(", ")})`);
    }
  }
}
