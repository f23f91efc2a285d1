/**
 * The `agentbox` command: dispatch to a subcommand, map errors to exit statuses. Nothing else.
 *
 * @module
 */

import { exitStatusFor, reportError, UsageError } from "./cli/errors.ts";
import { SESSION_DAEMON } from "./api/owner_command.ts";
import { VERSION } from "./version.ts";

type Command = (args: string[]) => Promise<number>;

/**
 * Each subcommand's module is loaded only when it runs, so `agentbox --version`, `ps` or `logs`
 * do not pay for loading the proxy, TLS and image-build code (~0.3 s → ~0.1 s from source).
 */
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  exec: {
    load: () => import("./cli/exec.ts").then((m) => m.execCommand),
    summary: "run a command in a fresh microVM",
  },
  run: {
    load: () => import("./cli/run.ts").then((m) => m.runCommand),
    summary: "run a shell or command in a fresh microVM, or detached",
  },
  ps: {
    load: () => import("./cli/ps.ts").then((m) => m.psCommand),
    summary: "list long-lived sessions",
  },
  shell: {
    load: () => import("./cli/shell.ts").then((m) => m.shellCommand),
    summary: "open a shell in a running session",
  },
  start: {
    load: () => import("./cli/start.ts").then((m) => m.startCommand),
    summary: "start stopped sessions again, over their own disks",
  },
  stop: {
    load: () => import("./cli/stop.ts").then((m) => m.stopCommand),
    summary: "stop running sessions, keeping their changes",
  },
  rm: {
    load: () => import("./cli/rm.ts").then((m) => m.rmCommand),
    summary: "remove stopped sessions and their files",
  },
  prune: {
    load: () => import("./cli/prune.ts").then((m) => m.pruneCommand),
    summary: "remove every session that is not alive",
  },
  snapshot: {
    load: () => import("./cli/snapshot.ts").then((m) => m.snapshotCommand),
    summary: "save running sessions and start new ones from them",
  },
  images: {
    load: () => import("./cli/images.ts").then((m) => m.imagesCommand),
    summary: "build and list guest images",
  },
  diff: {
    load: () => import("./cli/diff.ts").then((m) => m.diffCommand),
    summary: "show what a sandbox changed in the project",
  },
  apply: {
    load: () => import("./cli/apply.ts").then((m) => m.applyCommand),
    summary: "apply a session's workspace changes to the host",
  },
  logs: {
    load: () => import("./cli/logs.ts").then((m) => m.logsCommand),
    summary: "show the network requests sandboxes made",
  },
  usage: {
    load: () => import("./cli/usage.ts").then((m) => m.usageCommand),
    summary: "show network usage per host and AI tokens per model",
  },
  agents: {
    load: () => import("./cli/agents.ts").then((m) => m.agentsCommand),
    summary: "list coding-agent profiles, clear their saved homes",
  },
  system: {
    load: () => import("./cli/system.ts").then((m) => m.systemCommand),
    summary: "show what agentbox keeps on disk and what prune would free (system df)",
  },
  doctor: {
    load: () => import("./cli/doctor.ts").then((m) => m.doctorCommand),
    summary: "check that this host can run agentbox",
  },
};

/** Commands only agentbox itself starts; not listed in the help. */
const HIDDEN: Record<string, () => Promise<Command>> = {
  [SESSION_DAEMON]: () => import("./cli/session_daemon.ts").then((m) => m.sessionDaemonCommand),
};

/** Top-level help. */
export const MAIN_HELP = `agentbox ${VERSION}: run untrusted commands and coding agents in microVMs.

Usage: agentbox COMMAND [OPTIONS]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join("\n")}

Options:
  -h, --help     show this help (also \`agentbox COMMAND --help\`)
  -V, --version  print the version

Start with: agentbox images build && agentbox exec -- uname -a`;

/** Run the CLI with `args`; returns the process exit status. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    console.log(MAIN_HELP);
    return 0;
  }
  const hidden = HIDDEN[name];
  if (hidden) return await (await hidden())(rest);
  if (name === "-V" || name === "--version") {
    console.log(`agentbox ${VERSION}`);
    return 0;
  }
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  const verbose = own.includes("--verbose");
  const json = own.includes("--json");
  try {
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(`Unknown command "${name}": see \`agentbox --help\``);
    }
    return await (await command.load())(rest);
  } catch (error) {
    reportError(error, { verbose, json });
    return exitStatusFor(error);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
