/**
 * The exit status agentbox reports for a command's result: its code, 128+N for signal N, 124 for
 * `--timeout`.
 *
 * @module
 */

import type { ExecResult } from "../channel/agent_client.ts";
import { EXIT } from "./errors.ts";

/**
 * The status for `result`; a timed-out command is also reported on stderr.
 *
 * @example
 * ```ts
 * import { exitStatus } from "./exit_status.ts";
 * console.assert(exitStatus({ code: null, signal: "SIGKILL", timedOut: false }) === 137);
 * ```
 */
export function exitStatus(result: ExecResult, timeoutSec?: number): number {
  if (result.timedOut) {
    console.error(`agentbox: the command timed out after ${timeoutSec} s and was killed`);
    return EXIT.timeout;
  }
  if (result.signal) return 128 + signalNumber(result.signal);
  return result.code ?? EXIT.vm;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(signal: string): number {
  return SIGNAL_NUMBERS[signal] ?? 0;
}
