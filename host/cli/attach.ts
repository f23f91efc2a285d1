/**
 * `agentbox attach SESSION [--read-only] [--detach-keys KEYS]`: this terminal on the terminal of
 * a session's command (`run --detach -- CMD`), raw, resized with it; the detach keys leave the
 * command running.
 *
 * @module
 */

import { attachSession } from "../api/attach.ts";
import type { ExecResult } from "../channel/agent_client.ts";
import { DEFAULT_DETACH_KEYS, DetachKeys, parseDetachKeys } from "./detach_keys.ts";
import { UsageError } from "./errors.ts";
import { exitStatus } from "./exit_status.ts";
import { parseCommandArgs } from "./options.ts";
import { RawTerminal } from "./raw_terminal.ts";
import { terminalStdin, windowSize } from "./terminal_io.ts";

/** Help text of `agentbox attach`. */
export const ATTACH_HELP = `Attach this terminal to the command of a running session.

Usage: agentbox attach SESSION [--read-only] [--detach-keys KEYS]

SESSION is a session's name, id or a unique prefix of an id. The command \`agentbox run
--detach -- CMD\` started runs on a terminal in the guest that outlives every client: attach
shows the last output it kept (up to 1 MiB), then what it prints, and types what you type into
it. Several clients can attach at once; the last to resize sets the size. Press the detach keys
(Ctrl-P Ctrl-Q) to leave it running; when the command ends, attach ends with its exit status.

Options:
  --read-only          watch without typing: keys are not sent (Ctrl-C also detaches)
  --detach-keys KEYS   the detach sequence, as docker writes it: comma-separated characters or
                       ctrl-X (default ${DEFAULT_DETACH_KEYS}; "" for none)
  --verbose            print the causes of an error
  -h, --help           show this help

Exit status: the command's when it ends while attached, 0 after detaching, 125 usage error or
unknown session, 126 when the session is not running or runs no command.`;

/** Ctrl-C, which detaches a read-only watcher. */
const CTRL_C = 3;

/** Run `agentbox attach ARGS`. */
export async function attachCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("attach", args, {
    "read-only": { type: "boolean" },
    "detach-keys": { type: "string" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(ATTACH_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Name one session: usage is `agentbox attach SESSION`");
  }
  const keys = new DetachKeys(
    parseDetachKeys((values["detach-keys"] as string | undefined) ?? DEFAULT_DETACH_KEYS),
  );
  const readOnly = !!values["read-only"];
  const onTerminal = Deno.stdin.isTerminal();
  const detached = Promise.withResolvers<"detached">();
  const typed = onTerminal ? terminalStdin() : undefined;
  const source = typed?.stdin ?? Deno.stdin.readable;
  // Typing goes through the detach keys; a watcher's keys only detach.
  const stdin = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const { forward, detached: done } = keys.push(chunk);
        if (readOnly && onTerminal && forward.includes(CTRL_C)) detached.resolve("detached");
        if (!readOnly && forward.length > 0) controller.enqueue(forward);
        if (done) detached.resolve("detached");
      },
    }),
  );
  // A watcher still reads its keys, for the detach keys.
  if (readOnly) stdin.pipeTo(new WritableStream()).catch(() => {});
  let raw: RawTerminal | undefined;
  const listeners: [Deno.Signal, () => void][] = [];
  try {
    raw = onTerminal ? RawTerminal.enter() : undefined;
    const attachment = await attachSession({
      session: positionals[0],
      readOnly,
      size: onTerminal ? windowSize() : undefined,
      stdin: readOnly ? undefined : stdin,
    });
    const { run, name } = attachment;
    const listen = (signal: Deno.Signal, listener: () => void) => {
      Deno.addSignalListener(signal, listener);
      listeners.push([signal, listener]);
    };
    if (onTerminal) listen("SIGWINCH", () => run.resize(windowSize()).catch(() => {}));
    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
      listen(signal, () => detached.resolve("detached"));
    }
    const output = run.stdout.pipeTo(Deno.stdout.writable, { preventClose: true });
    output.catch(() => {});
    run.stderr.cancel().catch(() => {});
    let end: ExecResult | "detached";
    try {
      end = await Promise.race([run.result, detached.promise]);
      if (end !== "detached") await output;
    } catch (error) {
      throw attachment.lost(error);
    } finally {
      attachment.detach();
    }
    raw?.restore();
    if (end === "detached") {
      console.error(`\r\nagentbox: detached from ${name}; its command runs on`);
      return 0;
    }
    const status = exitStatus(end, undefined);
    console.error(`\r\nagentbox: the command of session ${name} ended (exit status ${status})`);
    return status;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    await typed?.stop();
    raw?.restore();
  }
}
