/**
 * Agents: the profiles in effect (`agentbox agents list`), clearing an agent's persistent home
 * (`agentbox agents reset NAME`), and the part of the sandbox lifecycle that prepares a known
 * agent in the guest (its home restored, its configuration seeded) and saves its home when the
 * sandbox stops. docs/agents.md is the user's view.
 *
 * @module
 */

import { join } from "node:path";
import { AgentboxError } from "../agentbox_error.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import { type AgentHomeSetting, loadAgentSettings } from "../config/agent_config.ts";
import {
  AGENT_NAME,
  AGENT_PRESETS,
  ALLOWED_PURPOSES,
  type HostPurpose,
} from "../config/agent_presets.ts";
import type { ResolvedAgent } from "../config/agent_profile.ts";
import { SEEDERS } from "../config/agent_seed.ts";
import {
  agentHomeArchive,
  agentHomesDir,
  type GuestHome,
  restoreAgentHome,
  saveAgentHome,
  seedAgentHome,
} from "../session/agent_home.ts";

/** One agent as `agents list` shows it. */
export interface AgentInfo {
  name: string;
  /** Built in, or added by the user's `[agents.NAME]`. */
  builtin: boolean;
  npmPackage?: string;
  baseUrlEnv?: string;
  hosts: { host: string; purpose: HostPurpose; note: string; allowed: boolean }[];
  env: Record<string, string>;
  /** Home-relative paths kept across runs. */
  home: string[];
  /** The saved homes of this agent: the per-user one and per-project ones. */
  saved: { path: string; bytes: number; modified: string | null }[];
}

/** `agents list`: every agent profile in effect, and where its home is kept. */
export interface AgentList {
  homeScope: AgentHomeSetting;
  homesDir: string;
  agents: AgentInfo[];
}

/**
 * The agent profiles in effect (built in plus the user's `[agents.*]`) with their saved homes.
 *
 * @example
 * ```ts ignore
 * import { listAgents } from "./agents.ts";
 * for (const agent of (await listAgents()).agents) console.log(agent.name, agent.saved.length);
 * ```
 */
export async function listAgents(options: { userFile?: string } = {}): Promise<AgentList> {
  const settings = await loadAgentSettings({ userFile: options.userFile });
  const agents: AgentInfo[] = [];
  for (const [name, preset] of Object.entries(settings.presets)) {
    agents.push({
      name,
      builtin: Object.hasOwn(AGENT_PRESETS, name),
      npmPackage: preset.npmPackage,
      baseUrlEnv: preset.baseUrlEnv,
      hosts: preset.hosts.map((h) => ({ ...h, allowed: ALLOWED_PURPOSES.includes(h.purpose) })),
      env: { ...preset.env },
      home: [...preset.home],
      saved: await savedHomes(name),
    });
  }
  return { homeScope: settings.homeScope, homesDir: agentHomesDir(), agents };
}

/** What `agents reset` removed. */
export interface AgentResetResult {
  name: string;
  removed: string[];
}

/**
 * Clear `name`'s saved home: the per-user one and every per-project one (`project` given: only
 * that project's). Throws {@linkcode AgentboxError} `agent_unknown` (usage) for a name that is
 * neither a known agent nor has a saved home.
 *
 * @example
 * ```ts ignore
 * import { resetAgentHome } from "./agents.ts";
 * const { removed } = await resetAgentHome("claude");
 * ```
 */
export async function resetAgentHome(
  name: string,
  options: { project?: string; userFile?: string } = {},
): Promise<AgentResetResult> {
  const settings = await loadAgentSettings({ userFile: options.userFile });
  const unknown = () =>
    new AgentboxError(
      `Unknown agent "${name}": use one of ${Object.keys(settings.presets).join(", ")}`,
      { kind: "usage", code: "agent_unknown" },
    );
  // A name with a path in it is never looked up on disk.
  if (!AGENT_NAME.test(name)) throw unknown();
  const userArchive = agentHomeArchive(name, "user", "");
  const saved = await savedHomes(name);
  if (!Object.hasOwn(settings.presets, name) && saved.length === 0) throw unknown();
  const targets = options.project === undefined
    ? saved.map((s) => s.path)
    : [agentHomeArchive(name, "project", options.project)];
  const removed: string[] = [];
  for (const path of targets) {
    try {
      await Deno.remove(path);
      removed.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  if (options.project === undefined) {
    await Deno.remove(join(userArchive, "..")).catch(() => {});
  }
  return { name, removed };
}

/** The archives saved for `name` (regular files named like an agent home). */
async function savedHomes(name: string): Promise<AgentInfo["saved"]> {
  const dir = join(agentHomeArchive(name, "user", ""), "..");
  const saved: AgentInfo["saved"] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !/^(home|project-[0-9a-f]{16})\.tar$/.test(entry.name)) continue;
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path).catch(() => undefined);
      if (!info?.isFile) continue;
      saved.push({ path, bytes: info.size, modified: info.mtime?.toISOString() ?? null });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return saved.sort((a, b) => a.path < b.path ? -1 : 1);
}

/** A session's agent in its guest: its home, saved when the sandbox stops. */
export interface AgentInGuest {
  agent: ResolvedAgent;
  /** Save the home (when it is kept); a failure is reported through `onWarning`. */
  save(): Promise<void>;
}

/** What {@linkcode prepareAgent} needs. */
export interface PrepareAgentOptions {
  agent: ResolvedAgent;
  homeScope: AgentHomeSetting;
  projectDir: string;
  /** The guest user the agent runs as (absent: root) and its home directory. */
  user?: string;
  home: string;
  /** The command's working directory in the guest (trusted in the agent's settings). */
  workdir: string;
  /** The command's environment (the agent's key variable holds the placeholder). */
  env: Readonly<Record<string, string>>;
  /** Unpack the saved home (false for a VM restored from a snapshot: it has its home). */
  restore: boolean;
  onWarning: (message: string) => void;
}

/**
 * Prepare `agent` in the guest: restore its saved home, seed its configuration. Problems are
 * warnings, never a failed start: the agent then meets its first-run questions.
 *
 * @example
 * ```ts ignore
 * import { prepareAgent } from "./agents.ts";
 * const prepared = await prepareAgent(vm.agent, { agent, homeScope: "user", ... });
 * // … run, then:
 * await prepared.save();
 * ```
 */
export async function prepareAgent(
  client: AgentClient,
  options: PrepareAgentOptions,
): Promise<AgentInGuest> {
  const { agent, onWarning } = options;
  const kept = options.homeScope !== "off" && agent.preset.home.length > 0;
  const guest = { agent: client, user: options.user, home: options.home };
  const home: GuestHome | undefined = kept
    ? {
      ...guest,
      paths: agent.preset.home,
      exclude: agent.preset.homeExclude,
      archive: agentHomeArchive(
        agent.name,
        options.homeScope === "project" ? "project" : "user",
        options.projectDir,
      ),
    }
    : undefined;
  if (home && options.restore) {
    await restoreAgentHome(home).catch((error) =>
      onWarning(`${agent.name}: the saved agent home was not restored: ${error.message}`)
    );
  }
  const seeder = agent.preset.seed && SEEDERS[agent.preset.seed];
  if (seeder) {
    await seedAgentHome(guest, seeder, {
      workdir: options.workdir,
      env: options.env,
      baseUrl: agent.baseUrl,
    }).catch((error) =>
      onWarning(`${agent.name}: its configuration was not pre-seeded: ${error.message}`)
    );
  }
  let saved: Promise<void> | undefined;
  return {
    agent,
    save() {
      if (!home) return Promise.resolve();
      saved ??= saveAgentHome(home).then(
        () => {},
        (error) => onWarning(`${agent.name}: the agent home was not saved: ${error.message}`),
      );
      return saved;
    },
  };
}
