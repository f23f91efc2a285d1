/**
 * `agentbox logs SESSION [-f] [--tail N]`: what the session's command printed, as `docker logs`
 * shows a container's output. The output comes from the guest: on a terminal, colours are kept
 * and every other control sequence is shown escaped; into a pipe or file it is copied as it is.
 *
 * @module
 */

import { commandOutput } from "../api/command_output.ts";
import { openContext } from "../api/context.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";

/** Help text of `agentbox logs`. */
export const LOGS_HELP = `Show the output of a session's command.

Usage: agentbox logs SESSION [-f] [--tail N]

SESSION is a session's name, id or a unique prefix of an id. The command \`agentbox run
--detach -- CMD\` started runs on a terminal; this prints what the terminal showed, kept in the
session's command.log (up to 8 MiB). On a terminal, colours are kept and other control
sequences are shown escaped; piped, the bytes are copied as they are. The network requests are
shown by \`agentbox requests\` (which was \`agentbox logs\` before).

Options:
  -f, --follow  keep printing as the command writes, until the session ends (Ctrl-C stops)
  --tail N      start with the last N lines only
  --verbose     print the causes of an error
  -h, --help    show this help

Exit status: 0, 125 usage error or unknown session.`;

/** Run `agentbox logs ARGS`. */
export async function logsCommand(args: string[]): Promise<number> {
  const own = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  if (own.includes("--json")) {
    throw new UsageError(
      "`agentbox logs` shows a session's command output now; the network request log with " +
        "--json is `agentbox requests --json`",
    );
  }
  const { values, positionals } = parseCommandArgs("logs", args, {
    follow: { type: "boolean", short: "f" },
    tail: { type: "string" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(LOGS_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      "Name one session: usage is `agentbox logs SESSION` (the network requests are " +
        "`agentbox requests`)",
    );
  }
  const tail = values.tail === undefined
    ? undefined
    : positiveInt("logs", "tail", values.tail, 0, 1_000_000, 0);
  await using ctx = openContext();
  const output = commandOutput(ctx, positionals[0], { follow: !!values.follow, tail });
  const render = Deno.stdout.isTerminal() ? terminalLines() : undefined;
  for await (const chunk of output) await writeAll(render ? render.push(chunk) : chunk);
  if (render) await writeAll(render.end());
  return 0;
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let n = 0; n < bytes.length;) n += await Deno.stdout.write(bytes.subarray(n));
}

/** SGR (colour) sequences, the only controls shown as they are. */
// deno-lint-ignore no-control-regex
const SGR = /(\x1b\[[0-9;]{0,64}m)/;

/**
 * Guest output made safe for a terminal, line by line: `\r\n` ends a line, colours are kept,
 * every other control character is escaped (`\x1b`…). An unfinished line waits for its end.
 *
 * @example
 * ```ts
 * import { terminalLines } from "./command_logs.ts";
 * const r = terminalLines();
 * const text = new TextDecoder().decode(r.push(new TextEncoder().encode("\x1b[31mred\x1b[0m\x1b]0;t\x07\r\n")));
 * console.assert(text === "\x1b[31mred\x1b[0m\\x1b]0;t\\x07\n");
 * ```
 */
export function terminalLines(): { push(chunk: Uint8Array): Uint8Array; end(): Uint8Array } {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = "";
  const render = (line: string) =>
    line.split(SGR).map((part, i) => i % 2 === 1 ? part : escapeControls(part, { keep: "\t" }))
      .join("");
  const lines = (text: string, final: boolean) => {
    pending += text;
    const parts = pending.split("\n");
    pending = final ? "" : parts.pop()!;
    const done = final && parts.at(-1) === "" ? parts.slice(0, -1) : parts;
    return encoder.encode(done.map((l) => render(l.replace(/\r$/, "")) + "\n").join(""));
  };
  return {
    push: (chunk) => lines(decoder.decode(chunk, { stream: true }), false),
    end: () => lines(decoder.decode(), true),
  };
}
