/**
 * The CLI's one error path: every failure becomes one `agentbox: error: …` line (plus its causes
 * with `--verbose`) and a documented exit status.
 *
 * | status | meaning                                              |
 * |--------|------------------------------------------------------|
 * | 124    | the command hit `--timeout`                          |
 * | 125    | usage or configuration error                         |
 * | 126    | VM or image failure (cannot boot, VM died, agent bad) |
 * | 127    | the command was not found or could not start         |
 *
 * @module
 */

import { AgentError } from "../channel/agent_client.ts";
import { SessionError } from "../session/session_client.ts";
import { SnapshotError } from "../session/snapshot_store.ts";
import { VmError } from "../vm/errors.ts";

/** Exit statuses agentbox uses for its own failures. */
export const EXIT = {
  timeout: 124,
  usage: 125,
  vm: 126,
  notFound: 127,
} as const;

/**
 * Bad command-line usage or configuration: exit status 125.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError("Unknown option --foo: see `agentbox exec --help`");
 * ```
 */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The exit status for an error that reached the top. */
export function exitStatusFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof AgentError && error.code === "spawn_failed") return EXIT.notFound;
  if (error instanceof Error && (error.name === "ConfigError")) return EXIT.usage;
  if (error instanceof SessionError && error.unknown) return EXIT.usage;
  if (error instanceof SnapshotError && error.usage) return EXIT.usage;
  return EXIT.vm;
}

/**
 * Print `error` as one line on stderr; with `verbose`, its chain of causes and the console tail.
 *
 * @example
 * ```ts
 * import { reportError } from "./errors.ts";
 * reportError(new Error("Cannot boot VM", { cause: new Error("no kernel") }), true);
 * ```
 */
export function reportError(error: unknown, verbose: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`agentbox: error: ${message}`);
  if (error instanceof VmError && error.consoleTail) {
    console.error(`agentbox: last lines of the VM console:\n${indent(error.consoleTail)}`);
  }
  if (!verbose) return;
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined) {
    console.error(`Caused by: ${cause instanceof Error ? cause.message : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  | ${line}`).join("\n");
}
