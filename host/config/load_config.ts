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
import { readConfigFile } from "./config_file.ts";
import { applyCredentials, applyInspectTable } from "./inspect_config.ts";
import { keyLine } from "./key_line.ts";
import { emptyPolicy, type NetMode, type Policy, type PolicyRule } from "./policy.ts";
import { AGENT_PRESETS, type AgentPreset, allowedHosts } from "./agent_presets.ts";
import type { ResolvedAgent } from "./agent_profile.ts";
import { PRESETS } from "./presets.ts";
import { NET_BACKEND_CHOICES, type NetBackendChoice } from "../net/net_backend.ts";
import { checkKeys, hostRule, strings, table, type Where } from "./toml_values.ts";
import { checkTables } from "./config_tables.ts";

const MODES: readonly NetMode[] = ["allowlist", "open", "learn"];
const NETWORK_KEYS = [
  "mode",
  "backend",
  "presets",
  "allow",
  "deny",
  "gray",
  "connect_ports",
  "http_ports",
];
const TOOL_KEYS = ["presets", "allow"];

/** Sources for {@linkcode loadPolicy}. */
export interface LoadPolicyOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine; `null`: none. */
  userFile?: string | null;
  /** Project directory holding `.agentbox.toml`; omitted means no project file. */
  projectDir?: string;
  /** `--allow` / `--deny` patterns from the command line. */
  allow?: string[];
  deny?: string[];
  /** `--net` from the command line. */
  mode?: NetMode;
  /** `--tls-inspect` from the command line: inspect every allowed host. */
  tlsInspect?: boolean;
  /** `--trust-host-ca` from the command line. */
  trustHostCa?: boolean;
  /** `--net-backend` from the command line. */
  backend?: NetBackendChoice;
  /** Agent profiles whose hosts become tool allowlists (default the built-in ones). */
  agents?: Readonly<Record<string, AgentPreset>>;
  /** The session's agent: its allowlist follows the user's endpoint (agent_profile.ts). */
  agent?: ResolvedAgent;
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
  addAgentTools(policy, options.agents ?? AGENT_PRESETS, options.agent);
  const files = options.userFile === null
    ? []
    : [{ file: options.userFile ?? `${configDir()}/config.toml`, trusted: true }];
  if (options.projectDir !== undefined) {
    files.push({ file: `${options.projectDir}/.agentbox.toml`, trusted: false });
  }
  for (const { file, trusted } of files) {
    const text = await readConfigFile(file);
    if (text !== undefined) applyConfigText(policy, text, file, { trusted });
  }
  const cli = { file: "command line" };
  for (const p of options.allow ?? []) policy.allow.push(hostRule(p, "--allow", cli));
  for (const p of options.deny ?? []) policy.deny.push(hostRule(p, "--deny", cli));
  if (options.mode) policy.mode = options.mode;
  if (options.tlsInspect) policy.inspect.enabled = true;
  if (options.trustHostCa) policy.trustHostCa = true;
  if (options.backend) policy.backend = options.backend;
  return policy;
}

/**
 * The agents' allowlists (their api and auth hosts, agent_presets.ts; the session's agent with
 * its endpoint's host in place of the api ones); `[tools.<name>]` in a file adds to them.
 */
function addAgentTools(
  policy: Policy,
  agents: Readonly<Record<string, AgentPreset>>,
  session: ResolvedAgent | undefined,
): void {
  const loc = { file: "agentbox's agent profiles" };
  for (const [name, agent] of Object.entries(agents)) {
    const hosts = session?.name === name ? session.allowed : allowedHosts(agent);
    policy.tools.set(name, hosts.map((host) => hostRule(host, `agent ${name}`, loc)));
  }
}

/** Options of {@linkcode applyConfigText}. */
export interface ApplyConfigOptions {
  /**
   * The user's own file (true) or one the sandbox could have written, such as a project's
   * `.agentbox.toml` (false, the default): credentials and a persisted CA are refused there.
   */
  trusted?: boolean;
}

/**
 * Parse one TOML document and add its settings to `policy` (mutated). The `[network]`,
 * `[tools.*]`, `[inspect]`, `[[credentials]]` and `[tls]` tables are read here; the other known tables
 * (config_tables.ts) belong to other parts of agentbox, and an unknown one is an error.
 *
 * @example
 * ```ts
 * import { applyConfigText } from "./load_config.ts";
 * import { emptyPolicy } from "./policy.ts";
 * const policy = emptyPolicy();
 * applyConfigText(policy, '[network]\npresets = ["npm"]\n', ".agentbox.toml");
 * ```
 */
export function applyConfigText(
  policy: Policy,
  text: string,
  file: string,
  options: ApplyConfigOptions = {},
): void {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    const line = err instanceof TomlError ? err.line : undefined;
    const detail = (err as Error).message.split("\n")[0];
    throw new ConfigError({ file, line }, detail, { cause: err });
  }
  const where = (key: string) => ({ file, key: displayKey(key), line: keyLine(text, key) });
  const trusted = options.trusted ?? false;
  checkTables(doc, where);
  if (doc.network !== undefined) applyNetwork(policy, table(doc.network, where("network")), where);
  if (doc.tools !== undefined) {
    for (const [name, value] of Object.entries(table(doc.tools, where("tools")))) {
      const rules = toolRules(table(value, where(`tools.${name}`)), `tools.${name}`, where);
      policy.tools.set(name, [...(policy.tools.get(name) ?? []), ...rules]);
    }
  }
  if (doc.inspect !== undefined) {
    applyInspectTable(policy.inspect, table(doc.inspect, where("inspect")), where, trusted);
  }
  applyCredentials(policy.inspect, doc.credentials, where, trusted);
  if (doc.tls !== undefined) applyTls(policy, table(doc.tls, where("tls")), where, trusted);
}

const TLS_KEYS = ["trust_host_ca"];

/**
 * `[tls]`: `trust_host_ca` gives the guest the host's extra trusted CAs. Only the user's own file
 * may turn it on: a project file is written by the sandbox, which must not choose to learn more
 * about the host.
 */
function applyTls(policy: Policy, tls: Record<string, unknown>, where: Where, trusted: boolean) {
  checkKeys(tls, TLS_KEYS, "tls", where);
  if (tls.trust_host_ca === undefined) return;
  const loc = where("tls.trust_host_ca");
  if (typeof tls.trust_host_ca !== "boolean") throw new ConfigError(loc, "must be true or false");
  if (!trusted) {
    throw new ConfigError(
      loc,
      "can be set only in the user configuration (config.toml), never in a project file the " +
        "sandbox can write; use --trust-host-ca for one run",
    );
  }
  policy.trustHostCa = tls.trust_host_ca;
}

/** `credentials.0.env` → `credentials[0].env`, for messages. */
function displayKey(key: string): string {
  return key.replace(/\.([0-9]+)(?=\.|$)/g, "[$1]");
}

function applyNetwork(policy: Policy, net: Record<string, unknown>, where: Where): void {
  checkKeys(net, NETWORK_KEYS, "network", where);
  if (net.mode !== undefined) {
    if (!MODES.includes(net.mode as NetMode)) {
      throw new ConfigError(where("network.mode"), `must be one of ${MODES.join(", ")}`);
    }
    policy.mode = net.mode as NetMode;
  }
  if (net.backend !== undefined) {
    if (!NET_BACKEND_CHOICES.includes(net.backend as NetBackendChoice)) {
      throw new ConfigError(
        where("network.backend"),
        `must be one of ${NET_BACKEND_CHOICES.join(", ")}`,
      );
    }
    policy.backend = net.backend as NetBackendChoice;
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
    return hosts.map((h) => hostRule(h, `preset ${name} via ${key}`, loc));
  });
}

function patternRules(value: unknown, key: string, where: Where): PolicyRule[] {
  const loc = where(key);
  return strings(value, loc).map((p) => hostRule(p, key, loc));
}

function ports(value: unknown, loc: ReturnType<Where>): Set<number> {
  const ok = Array.isArray(value) &&
    value.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535);
  if (!ok) throw new ConfigError(loc, "must be an array of port numbers (1-65535)");
  return new Set(value as number[]);
}
