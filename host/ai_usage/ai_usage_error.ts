/**
 * Why a response's token usage could not be (fully) read. The codes are stable and are stored in
 * the `usage_error` column; they never carry text from the response.
 *
 * @module
 */

/** Stable reasons for an incomplete usage reading. */
export type AiUsageErrorCode =
  /** A JSON body (or its decoded copy) exceeded the size bound; it was forwarded unread. */
  | "too_large"
  /** An SSE line or event exceeded the size bound; the rest of the stream was not read. */
  | "line_too_long"
  /** A JSON body or SSE event was not valid JSON. */
  | "malformed"
  /** The response was read but carried no usage. */
  | "no_usage"
  /** A `Content-Encoding` agentbox cannot decode (e.g. stacked codings). */
  | "unsupported_encoding"
  /** The compressed body could not be decoded. */
  | "decode_failed"
  /** The body ended early: the client went away or the upstream broke off. */
  | "aborted";

/**
 * A usage reading failed for a {@linkcode AiUsageErrorCode} reason. Parsers throw it; the
 * observer catches it, stops parsing and keeps forwarding.
 *
 * @example
 * ```ts
 * import { AiUsageError } from "./ai_usage_error.ts";
 * const err = new AiUsageError("line_too_long", "SSE line longer than 4194304 bytes");
 * console.assert(err.code === "line_too_long");
 * ```
 */
export class AiUsageError extends Error {
  readonly code: AiUsageErrorCode;
  constructor(code: AiUsageErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AiUsageError";
    this.code = code;
  }
}
