/**
 * Attach to a session's command (the one `run --detach -- CMD` started on a terminal in the
 * guest): its scrollback and live output, and, unless read-only, its input. Leaving detaches;
 * the command runs on. See `session.attach` in docs/protocol.md.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { AgentError, type ExecHandle } from "../channel/agent_client.ts";
import { connectToSession } from "./session_connect.ts";

/** What {@linkcode attachSession} is asked. */
export interface AttachRequest {
  /** The session's name, id or a unique prefix of an id. */
  session: string;
  /** Watch only: typing is not sent. */
  readOnly: boolean;
  /** The client's terminal size (given to the command's terminal unless `readOnly`). */
  size?: { rows: number; cols: number };
  /** What is typed into the command's terminal (ignored with `readOnly`). */
  stdin?: ReadableStream<Uint8Array>;
}

/** An attachment: the command's terminal, until it ends or {@linkcode Attachment.detach}. */
export interface Attachment {
  /** How the session is named to people. */
  name: string;
  /**
   * `stdout`: the scrollback, then the output; `result`: the command's end; `resize`: the
   * terminal's size.
   */
  run: ExecHandle;
  /** Leave the command running. Idempotent. */
  detach(): void;
  /** The error to report when the session was lost while attached. */
  lost(cause: unknown): AgentboxError;
}

/**
 * Attach to the command of a running session. Throws `SessionError` (`session_unknown`,
 * `session_not_running`, `session_unreachable`) and {@linkcode AgentboxError} `no_command` (kind
 * `state`) when the session runs no command (started without one, or by an older agentbox).
 *
 * @example
 * ```ts ignore
 * import { attachSession } from "./attach.ts";
 * const attached = await attachSession({ session: "web", readOnly: true });
 * await attached.run.stdout.pipeTo(Deno.stdout.writable);
 * ```
 */
export async function attachSession(request: AttachRequest): Promise<Attachment> {
  const connection = await connectToSession(request.session);
  const { agent, name } = connection;
  const run = agent.attach({
    readOnly: request.readOnly,
    size: request.size,
    stdin: request.stdin,
  });
  try {
    await run.started;
  } catch (error) {
    agent.close();
    if (error instanceof AgentError && ["no_command", "version_mismatch"].includes(error.code)) {
      const why = error.code === "no_command"
        ? "was started without a command"
        : "was started by an older agentbox";
      throw new AgentboxError(
        `Session ${name} ${why}: nothing to attach to; use \`agentbox shell ${name}\``,
        { kind: "state", code: "no_command", cause: error },
      );
    }
    throw connection.lost(error);
  }
  return { name, run, detach: () => agent.close(), lost: connection.lost };
}
