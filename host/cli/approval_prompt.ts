/**
 * Graylist approval on a terminal: the proxy holds the connection while the user is asked to
 * allow the host once, for this session, always (written to the project's `.agentbox.toml`), or
 * to deny it. No answer within the timeout denies. What each answer means is the core's
 * (host/api/approval_gate.ts, shared with `agentbox approve` and the server); this is one way of
 * answering: one question at a time on the terminal.
 *
 * @module
 */

import {
  approvalGate,
  type ApprovalOutcome,
  type ApprovalRequest,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  type Settled,
} from "../api/approval_gate.ts";

/** Where questions go and answers come from. */
export interface PromptIo {
  /** The next line the user typed, without its newline; `null` at end of input. */
  readLine(): Promise<string | null>;
  write(text: string): Promise<void>;
  /**
   * Stop everything else that writes to the terminal (the guest's output) until the returned
   * function is called: held from the question to the line naming the decision.
   */
  pause?(): Promise<() => void>;
}

/** Options of {@linkcode terminalApprover}. */
export interface ApproverOptions {
  /** How long a question waits (default 30 s). */
  timeoutMs?: number;
  /** Persist an "always" answer; its failure is reported and the host allowed for the session. */
  allowAlways(host: string): Promise<void>;
}

const ANSWERS: Record<string, ApprovalOutcome> = {
  o: "once",
  once: "once",
  s: "session",
  session: "session",
  a: "always",
  always: "always",
  d: "deny",
  deny: "deny",
  n: "deny",
  no: "deny",
};

/** The line naming the host again after the answer, so what was decided is on the screen. */
const OUTCOMES: Record<ApprovalOutcome, string> = {
  once: "allowed once",
  session: "allowed for this session",
  always: "allowed always (added to network.allow in .agentbox.toml)",
  deny: "denied",
  timeout: "denied",
};

/** What {@linkcode terminalAsker} returns: an asker that can also be told to stop asking. */
export type TerminalAsker = (
  request: ApprovalRequest,
  settle: (outcome: ApprovalOutcome) => Promise<Settled>,
  signal?: AbortSignal,
) => Promise<Settled>;

/**
 * An asker (approval_gate.ts) that asks on `io`, one question at a time. When `signal` aborts
 * (someone answered elsewhere: `agentbox approve`, the server) the open question ends and the
 * line names what was decided.
 *
 * @example
 * ```ts ignore
 * import { stdinLines, terminalAsker } from "./approval_prompt.ts";
 * const ask = terminalAsker({ readLine: stdinLines(), write: async () => {} }, {});
 * ```
 */
export function terminalAsker(
  io: PromptIo,
  options: Pick<ApproverOptions, "timeoutMs">,
): TerminalAsker {
  const timeoutMs = options.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
  let queue: Promise<unknown> = Promise.resolve();
  // A line that arrives after its question timed out must not answer the next question.
  let active: ((line: string | null | undefined) => void) | undefined;
  let reading = false;
  const readLoop = async () => {
    for (let line = await io.readLine();; line = await io.readLine()) {
      active?.(line);
      if (line === null) return;
    }
  };
  /** The next line; `null` at end of input, `undefined` when time ran out or `signal` aborted. */
  const nextAnswer = (signal?: AbortSignal): Promise<string | null | undefined> => {
    if (!reading) {
      reading = true;
      readLoop().catch(() => active?.(null));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const onAbort = () => finish(undefined);
      const finish = (line: string | null | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        active = undefined;
        resolve(line);
      };
      if (signal?.aborted) return finish(undefined);
      signal?.addEventListener("abort", onAbort);
      active = finish;
    });
  };
  const ask = async (
    request: ApprovalRequest,
    settle: (outcome: ApprovalOutcome) => Promise<Settled>,
    signal?: AbortSignal,
  ): Promise<Settled> => {
    // Answered elsewhere while this question queued: nothing to show.
    if (signal?.aborted) return await settle("timeout");
    // Nothing else reaches the terminal from the question to the line that names the outcome,
    // so the guest cannot draw over either (a fake question, another host's name).
    const resume = await io.pause?.();
    try {
      return await question(request, settle, signal);
    } finally {
      resume?.();
    }
  };
  const question = async (
    request: ApprovalRequest,
    settle: (outcome: ApprovalOutcome) => Promise<Settled>,
    signal?: AbortSignal,
  ): Promise<Settled> => {
    const seconds = Math.round(timeoutMs / 1000);
    const destination = `${request.host}:${request.port}`;
    for (;;) {
      await io.write(
        `agentbox: ${destination} is graylisted (${request.rule}).\n` +
          `  Allow it? [o]nce, for this [s]ession, [a]lways (writes .agentbox.toml), [d]eny ` +
          `(no answer in ${seconds} s denies): `,
      );
      const line = await nextAnswer(signal);
      if (line === undefined && signal?.aborted) {
        // `settle` reports what the other answer was; "timeout" is only a placeholder here.
        const settled = await settle("timeout");
        const by = settled.outcome === "timeout" ? "no answer" : "answered elsewhere";
        await io.write(`\nagentbox: ${by}: ${destination} ${OUTCOMES[settled.outcome]}\n`);
        return settled;
      }
      if (line === null || line === undefined) {
        await io.write(`\nagentbox: no answer: ${destination} denied\n`);
        return await settle("timeout");
      }
      const answer = ANSWERS[line.trim().toLowerCase()];
      if (!answer) {
        await io.write(`agentbox: answer o, s, a or d\n`);
        continue;
      }
      const settled = await settle(answer);
      if (settled.saveError) {
        await io.write(
          `agentbox: could not save the answer (${settled.saveError.message}); ` +
            `allowed for this session\n`,
        );
      }
      await io.write(`agentbox: ${destination} ${OUTCOMES[settled.outcome]}\n`);
      return settled;
    }
  };
  return (request, settle, signal) => {
    const turn = queue.then(() => ask(request, settle, signal));
    queue = turn.catch(() => {});
    return turn;
  };
}

/**
 * An `approve` callback for the proxy that asks on `io` (and nowhere else).
 *
 * @example
 * ```ts ignore
 * import { stdinLines, terminalApprover } from "./approval_prompt.ts";
 * const approve = terminalApprover(
 *   { readLine: stdinLines(), write: (t) => Deno.stderr.write(new TextEncoder().encode(t)).then() },
 *   { allowAlways: async () => {} },
 * );
 * ```
 */
export function terminalApprover(
  io: PromptIo,
  options: ApproverOptions,
): (request: ApprovalRequest) => Promise<boolean> {
  const ask = terminalAsker(io, options);
  return approvalGate((request, settle) => ask(request, settle), {
    allowAlways: options.allowAlways,
  });
}

/**
 * Lines from stdin, read only when asked for (so a session that never prompts never reads).
 *
 * @example
 * ```ts ignore
 * import { stdinLines } from "./approval_prompt.ts";
 * const readLine = stdinLines();
 * console.log(await readLine());
 * ```
 */
export function stdinLines(stdin: ReadableStream<Uint8Array> = Deno.stdin.readable) {
  let reader: ReadableStreamDefaultReader<string> | undefined;
  let buffered = "";
  return async (): Promise<string | null> => {
    reader ??= stdin.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) {
        const rest = buffered;
        buffered = "";
        return rest === "" ? null : rest;
      }
      buffered += value;
    }
  };
}
