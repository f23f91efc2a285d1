/**
 * The `agentbox` command: dispatch to a subcommand, map errors to exit statuses. Nothing else.
 *
 * @module
 */

import { applyCommand } from "./cli/apply.ts";
import { diffCommand } from "./cli/diff.ts";
import { doctorCommand } from "./cli/doctor.ts";
import { exitStatusFor, reportError, UsageError } from "./cli/errors.ts";
import { execCommand } from "./cli/exec.ts";
import { imagesCommand } from "./cli/images.ts";
import { logsCommand } from "./cli/logs.ts";
import { runCommand } from "./cli/run.ts";
import { psCommand } from "./cli/ps.ts";
import { pruneCommand } from "./cli/prune.ts";
import { rmCommand } from "./cli/rm.ts";
import { shellCommand } from "./cli/shell.ts";
import { stopCommand } from "./cli/stop.ts";
import { usageCommand } from "./cli/usage.ts";
import { SESSION_DAEMON, sessionDaemonCommand } from "./cli/session_daemon.ts";
import { VERSION } from "./version.ts";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  exec: { run: execCommand, summary: "run a command in a fresh microVM" },
  run: { run: runCommand, summary: "run a shell or command in a fresh microVM, or detached" },
  ps: { run: psCommand, summary: "list long-lived sessions" },
  shell: { run: shellCommand, summary: "open a shell in a running session" },
  stop: { run: stopCommand, summary: "stop running sessions, keeping their changes" },
  rm: { run: rmCommand, summary: "remove stopped sessions and their files" },
  prune: { run: pruneCommand, summary: "remove every session that is not alive" },
  images: { run: imagesCommand, summary: "build and list guest images" },
  diff: { run: diffCommand, summary: "show what a sandbox changed in the project" },
  apply: { run: applyCommand, summary: "apply a session's workspace changes to the host" },
  logs: { run: logsCommand, summary: "show the network requests sandboxes made" },
  usage: { run: usageCommand, summary: "show network usage per host and AI tokens per model" },
  doctor: { run: doctorCommand, summary: "check that this host can run agentbox" },
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
  if (name === SESSION_DAEMON) return await sessionDaemonCommand(rest);
  if (name === "-V" || name === "--version") {
    console.log(`agentbox ${VERSION}`);
    return 0;
  }
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  const verbose = own.includes("--verbose");
  try {
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(`Unknown command "${name}": see \`agentbox --help\``);
    }
    return await command.run(rest);
  } catch (error) {
    reportError(error, verbose);
    return exitStatusFor(error);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
