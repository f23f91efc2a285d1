/**
 * `agentbox agents`: list the agent profiles in effect (hosts and what each is for, environment,
 * home paths, saved homes) and clear an agent's persistent home (`agents reset NAME`).
 *
 * @module
 */

import { resolve } from "node:path";
import { listAgents, resetAgentHome } from "../api/agents.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox agents`. */
export const AGENTS_HELP = `List coding-agent profiles and clear their persistent homes.

Usage: agentbox agents list [--json]
       agentbox agents reset NAME [--project DIR]

list    every agent profile (built in, and the user's [agents.NAME] in config.toml): the hosts it
        may reach (api, auth) and those it is kept from (telemetry, updates), its environment,
        the home paths kept across runs (~/.claude, ~/.claude.json, ~/.codex, ~/.gemini) and
        the saved homes
reset   delete NAME's saved home: the per-user one and every per-project one, or with
        --project only DIR's; the next run starts from a fresh, pre-seeded configuration

Options:
  --json           list: one JSON document on stdout
  --project DIR    reset: only the home kept for project DIR ([agent_home] scope = "project")
  -h, --help       show this help

See docs/agents.md.`;

/**
 * Run `agentbox agents ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { agentsCommand } from "./agents.ts";
 * await agentsCommand(["reset", "claude"]);
 * ```
 */
export async function agentsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("agents", args, {
    json: { type: "boolean" },
    project: { type: "string" },
  });
  if (values.help) {
    console.log(AGENTS_HELP);
    return 0;
  }
  const [sub, ...rest] = positionals;
  if (sub === "list" || sub === "ls") {
    if (rest.length > 0 || values.project !== undefined) {
      throw new UsageError("agents list takes no arguments: see `agentbox agents --help`");
    }
    const list = await listAgents();
    if (values.json) {
      console.log(JSON.stringify({ version: 1, ...list }, null, 2));
      return 0;
    }
    console.log(`Agent homes: ${list.homesDir} (scope: ${list.homeScope})`);
    for (const agent of list.agents) {
      const from = agent.builtin ? "" : " (config.toml)";
      console.log(`\n${agent.name}${from}${agent.npmPackage ? `  npm ${agent.npmPackage}` : ""}`);
      for (const h of agent.hosts) {
        const verdict = h.allowed ? "allowed" : "refused";
        console.log(`  ${h.host.padEnd(36)} ${h.purpose.padEnd(9)} ${verdict.padEnd(7)} ${h.note}`);
      }
      if (agent.baseUrlEnv) {
        console.log(`  endpoint: $${agent.baseUrlEnv} replaces the api hosts when set`);
      }
      const env = Object.entries(agent.env).map(([k, v]) => `${k}=${v}`).join(" ");
      if (env) console.log(`  env: ${env}`);
      console.log(`  home: ${agent.home.map((p) => `~/${p}`).join(" ")}`);
      for (const s of agent.saved) {
        console.log(`  saved: ${s.path} (${s.bytes} bytes, ${s.modified ?? "?"})`);
      }
    }
    return 0;
  }
  if (sub === "reset") {
    if (rest.length !== 1) {
      throw new UsageError("agents reset takes one agent NAME: see `agentbox agents --help`");
    }
    const project = values.project === undefined ? undefined : resolve(values.project as string);
    const result = await resetAgentHome(rest[0], { project });
    if (result.removed.length === 0) {
      console.error(`agentbox: ${result.name} has no saved home`);
    } else {
      for (const path of result.removed) console.error(`agentbox: removed ${path}`);
    }
    return 0;
  }
  throw new UsageError(
    sub === undefined
      ? "agents needs a subcommand (list, reset): see `agentbox agents --help`"
      : `Unknown agents subcommand "${sub}": use list or reset`,
  );
}
