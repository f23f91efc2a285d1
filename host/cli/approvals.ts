/**
 * `agentbox approvals` lists the graylisted destinations sessions are waiting on (and recent
 * decisions); `agentbox approve ID DECISION` answers one. The queue and what each answer means
 * are the core's (host/api/approvals.ts); this only parses and renders.
 *
 * @module
 */

import {
  answerApproval,
  type Approval,
  APPROVAL_DECISIONS,
  cliDecider,
  listApprovals,
} from "../api/approvals.ts";
import { openContext } from "../api/context.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox approvals`. */
export const APPROVALS_HELP =
  `List graylisted destinations waiting for approval, and recent decisions.

Usage: agentbox approvals [--session SESSION] [--all] [--limit N] [--json]

A sandbox that may not ask on a terminal (a detached session, a server's sandbox) holds a
connection to a graylisted host (network.gray) open and waits for someone to answer with
\`agentbox approve ID DECISION\`; nobody answering before the deadline denies it. STATE is
pending, decided, or expired (its deadline passed without a recorded decision: denied). BY says
who decided: cli:USER, a server token's name, or agentbox (no answer in time).

Options:
  --session SESSION  only the approvals of SESSION (a name, id or unique id prefix)
  -a, --all          list decided and expired ones too (default: pending only)
  --limit N          at most N, newest first (default 100)
  --json             print a JSON array: id, session, sessionName, host, port, rule, askedAt,
                     deadline (ms since the epoch), state, decision (once, session, always,
                     deny, timeout or null), decidedBy, decidedAt, note
  -h, --help         show this help

Exit status: 0, 125 usage error or unknown session.`;

/** Help text of `agentbox approve`. */
export const APPROVE_HELP = `Answer a graylisted destination waiting for approval.

Usage: agentbox approve ID once|session|always|deny [--json]

ID is the number \`agentbox approvals\` lists. once lets this connection through; session lets
it and every later one to the same host in that session through without asking again; always
does too and adds the host to network.allow in the project's .agentbox.toml; deny refuses it
(the program in the sandbox is told the host needs approval). The decision is recorded with
who made it (cli:USER).

Options:
  --json      print the decided approval as JSON (fields as \`agentbox approvals --json\`)
  -h, --help  show this help

Exit status: 0 answered; 125 usage error, unknown ID, or already answered; 126 expired (its
deadline passed: the destination was denied).`;

/**
 * Run `agentbox approvals ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { approvalsCommand } from "./approvals.ts";
 * await approvalsCommand(["--all"]);
 * ```
 */
export function approvalsCommand(args: string[]): Promise<number> {
  return Promise.resolve().then(() => listCommand(args));
}

function listCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs("approvals", args, {
    session: { type: "string" },
    all: { type: "boolean", short: "a" },
    limit: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(APPROVALS_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("approvals takes no arguments: see `agentbox approvals --help`");
  }
  const limit = positiveInt("approvals", "limit", values.limit as string | undefined, 100, 1000);
  using ctx = openContext();
  const approvals = listApprovals(ctx, {
    session: values.session as string | undefined,
    pending: !values.all,
    limit,
  });
  if (values.json) {
    console.log(JSON.stringify(approvals));
    return 0;
  }
  if (approvals.length === 0) {
    console.error(`agentbox: no ${values.all ? "" : "pending "}approvals`);
    return 0;
  }
  const now = Date.now();
  const table = [["ID", "SESSION", "DESTINATION", "STATE", "DECISION", "BY", "ASKED", "LEFT"]];
  for (const a of approvals) {
    table.push([
      String(a.id),
      a.sessionName ?? a.session.slice(0, 8),
      escapeControls(`${a.host}:${a.port}`),
      a.state,
      a.decision ?? "-",
      a.decidedBy ? escapeControls(a.decidedBy) : "-",
      new Date(a.askedAt).toISOString().replace(/\.\d+Z$/, "Z"),
      a.state === "pending" ? `${Math.max(0, Math.ceil((a.deadline - now) / 1000))} s` : "-",
    ]);
  }
  printTable(table);
  return 0;
}

/**
 * Run `agentbox approve ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { approveCommand } from "./approvals.ts";
 * await approveCommand(["3", "once"]);
 * ```
 */
export function approveCommand(args: string[]): Promise<number> {
  return Promise.resolve().then(() => answerCommand(args));
}

function answerCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs("approve", args, {
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(APPROVE_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      `Name an approval and a decision: usage is \`agentbox approve ID ${
        APPROVAL_DECISIONS.join("|")
      }\``,
    );
  }
  const [idText, decision] = positionals;
  if (!/^[1-9][0-9]{0,15}$/.test(idText)) {
    throw new UsageError(
      `${JSON.stringify(idText.slice(0, 40))} is not an approval id: see \`agentbox approvals\``,
    );
  }
  using ctx = openContext();
  const approval = answerApproval(ctx, Number(idText), decision, cliDecider());
  if (values.json) console.log(JSON.stringify(approval));
  else console.error(`agentbox: ${describe(approval)}`);
  return 0;
}

function describe(a: Approval): string {
  const what: Record<string, string> = {
    once: "allowed once",
    session: "allowed for the session",
    always: "allowed always (added to the project's network.allow)",
    deny: "denied",
  };
  return `approval ${a.id}: ${escapeControls(`${a.host}:${a.port}`)} ${
    what[a.decision ?? ""] ?? a.decision
  }`;
}
