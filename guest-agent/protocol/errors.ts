/**
 * Typed protocol errors. Peers branch on {@linkcode ProtocolErrorCode}, never on the message text.
 *
 * @module
 */

/** Machine-readable reasons a frame, message or stream was refused. */
export type ProtocolErrorCode =
  | "frame_too_large"
  | "bad_frame"
  | "bad_message"
  | "unknown_type"
  | "unknown_stream"
  | "stream_exists"
  | "flow_violation"
  | "version_mismatch"
  | "too_many_streams"
  | "spawn_failed"
  | "no_workspace"
  | "no_root_overlay"
  | "snapshot_failed"
  | "collect_failed"
  | "no_command"
  | "files_failed"
  | "connect_failed"
  | "forward_failed"
  | "closed"
  | "timed_out"
  | "internal";

/**
 * An error in the wire protocol: a malformed frame, an invalid message, a broken flow-control
 * contract or a closed connection.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@agentbox/protocol";
 * const err = new ProtocolError("frame_too_large", "Frame of 9999999 bytes exceeds the limit");
 * console.assert(err.code === "frame_too_large");
 * ```
 */
export class ProtocolError extends Error {
  /** Stable code; see {@linkcode ProtocolErrorCode}. */
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}
