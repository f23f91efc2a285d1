/**
 * The `agentbox` command: dispatch to a subcommand, map errors to exit statuses. Nothing else.
 *
 * @module
 */

import { exitStatusFor, reportError, UsageError } from "./cli/errors.ts";
import { editDistance } from "./edit_distance.ts";
import { applyGlobalOptions, GLOBAL_HELP, output } from "./cli/output_settings.ts";
import { SESSION_DAEMON } from "./api/owner_command.ts";
import { printable } from "./terminal_text.ts";
import { VERSION } from "./version.ts";

type Command = (args: string[]) => Promise<number>;

/** A command of the table: how to load it, its help line, its subcommands (for completions). */
export interface CommandEntry {
  load: () => Promise<Command>;
  summary: string;
  /** `images build`, `snapshot save`…: the words that may follow the command. */
  subcommands?: readonly string[];
}

/**
 * Each subcommand's module is loaded only when it runs, so `agentbox --version`, `ps` or `logs`
 * do not pay for loading the proxy, TLS and image-build code (~0.3 s → ~0.1 s from source).
 */
export const COMMANDS: Record<string, CommandEntry> = {
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
  cp: {
    load: () => import("./cli/cp.ts").then((m) => m.cpCommand),
    summary: "copy files between the host and a running session",
  },
  port: {
    load: () => import("./cli/port.ts").then((m) => m.portCommand),
    summary: "forward a host port into a running session",
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
    subcommands: ["save", "restore", "ls", "rm"],
  },
  images: {
    load: () => import("./cli/images.ts").then((m) => m.imagesCommand),
    summary: "build and list guest images",
    subcommands: ["build", "list", "rm"],
  },
  diff: {
    load: () => import("./cli/diff.ts").then((m) => m.diffCommand),
    summary: "show what a sandbox changed in the project",
  },
  export: {
    load: () => import("./cli/export.ts").then((m) => m.exportCommand),
    summary: "export a session's system changes as Ansible or a script",
  },
  apply: {
    load: () => import("./cli/apply.ts").then((m) => m.applyCommand),
    summary: "apply a session's workspace changes to the host",
  },
  approvals: {
    load: () => import("./cli/approvals.ts").then((m) => m.approvalsCommand),
    summary: "list graylisted destinations waiting for approval",
  },
  approve: {
    load: () => import("./cli/approvals.ts").then((m) => m.approveCommand),
    summary: "answer an approval: once, session, always or deny",
  },
  reviews: {
    load: () => import("./cli/reviews.ts").then((m) => m.reviewsCommand),
    summary: "list applies held for review (apply --for-review)",
  },
  review: {
    load: () => import("./cli/reviews.ts").then((m) => m.reviewCommand),
    summary: "accept (apply as submitted) or reject an apply held for review",
  },
  attach: {
    load: () => import("./cli/attach.ts").then((m) => m.attachCommand),
    summary: "attach this terminal to a session's command",
  },
  logs: {
    load: () => import("./cli/command_logs.ts").then((m) => m.logsCommand),
    summary: "show the output of a session's command",
  },
  requests: {
    load: () => import("./cli/requests.ts").then((m) => m.requestsCommand),
    summary: "show the network requests sandboxes made (was `logs`)",
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
    subcommands: ["df"],
  },
  serve: {
    load: () => import("./cli/serve.ts").then((m) => m.serveCommand),
    summary: "serve the REST API for SDKs and other programs",
    subcommands: ["token", "openapi"],
  },
  doctor: {
    load: () => import("./cli/doctor.ts").then((m) => m.doctorCommand),
    summary: "check that this host can run agentbox",
  },
  version: {
    load: () => import("./cli/version_command.ts").then((m) => m.versionCommand),
    summary: "show the versions of agentbox, Deno, QEMU and the built images",
  },
  completion: {
    load: () =>
      import("./cli/completion.ts").then((m) => (args: string[]) =>
        m.completionCommand(args, { commands: COMMANDS, run: main })
      ),
    summary: "print a shell completion script (bash, zsh or fish)",
    subcommands: ["bash", "zsh", "fish"],
  },
  help: {
    load: () => Promise.resolve(helpCommand),
    summary: "show the help of a command (`agentbox help images build`)",
  },
  config: {
    load: () => import("./cli/config.ts").then((m) => m.configCommand),
    summary: "show the effective configuration and where each value came from",
  },
};

/** Commands only agentbox itself starts; not listed in the help. */
const HIDDEN: Record<string, () => Promise<Command>> = {
  [SESSION_DAEMON]: () => import("./cli/session_daemon.ts").then((m) => m.sessionDaemonCommand),
};

/** Top-level help. */
export const MAIN_HELP = `agentbox ${VERSION}: run untrusted commands and coding agents in microVMs.

Usage: agentbox [GLOBAL OPTIONS] COMMAND [OPTIONS]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`).join("\n")}

Global options (also accepted after COMMAND):
${GLOBAL_HELP}
  -h, --help      show this help (also \`agentbox help COMMAND\`, \`agentbox COMMAND --help\`;
                  \`agentbox help --man\` prints it all as a man page)
  -V, --version   print the version number (\`agentbox version\` says more)

Start with: agentbox images build && agentbox exec -- uname -a`;

/**
 * `agentbox help [COMMAND [SUBCOMMAND]]`: the same text as `agentbox COMMAND --help`;
 * `agentbox help --man`: all of it as a man page (roff), for install.sh.
 */
async function helpCommand(args: string[]): Promise<number> {
  if (args.length === 1 && args[0] === "--man") {
    const { renderManPage } = await import("./cli/man_page.ts");
    console.log((await renderManPage({ commands: COMMANDS, run: main })).trimEnd());
    return 0;
  }
  const words = args.filter((arg) => arg !== "--help" && arg !== "-h");
  if (words.length === 0) {
    console.log(MAIN_HELP);
    return 0;
  }
  if (words[0] === "help" || !Object.hasOwn(COMMANDS, words[0])) {
    if (words[0] === "help") return await helpCommand([]);
    throw unknownCommand(words[0]);
  }
  return await main([...words, "--help"]);
}

function unknownCommand(name: string): UsageError {
  const names = Object.keys(COMMANDS);
  const near = names
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = near && near.distance <= 2 ? ` (did you mean \`agentbox ${near.candidate}\`?)` : "";
  return new UsageError(
    `Unknown command "${printable(name.slice(0, 40))}"${hint}: see \`agentbox --help\``,
  );
}

/** The global options before COMMAND (`agentbox -q --color=never exec …`), taken off `args`. */
function leadingGlobalOptions(args: string[]): string[] {
  let i = 0;
  const values: Record<string, unknown> = {};
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-v" || arg === "--verbose") values.verbose = true;
    else if (arg === "-q" || arg === "--quiet") values.quiet = true;
    else if (arg.startsWith("--color=")) values.color = arg.slice("--color=".length);
    else if (arg === "--color" && i + 1 < args.length) values.color = args[++i];
    else break;
  }
  applyGlobalOptions(values);
  return args.slice(i);
}

/** Run the CLI with `args`; returns the process exit status. */
export async function main(args: string[]): Promise<number> {
  const hidden = Object.hasOwn(HIDDEN, args[0] ?? "") ? HIDDEN[args[0]] : undefined;
  if (hidden) return await (await hidden())(args.slice(1));
  let rest = args;
  try {
    rest = leadingGlobalOptions(args);
    const name = rest[0];
    rest = rest.slice(1);
    if (name === undefined || name === "-h" || name === "--help") {
      console.log(MAIN_HELP);
      return 0;
    }
    if (name === "-V" || name === "--version") {
      console.log(`agentbox ${VERSION}`);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, name)) throw unknownCommand(name);
    return await (await COMMANDS[name].load())(rest);
  } catch (error) {
    const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
    const verbose = output.verbose || own.includes("--verbose") || own.includes("-v");
    reportError(error, { verbose, json: own.includes("--json") });
    return exitStatusFor(error);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
