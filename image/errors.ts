/**
 * The error type of everything under `image/`.
 *
 * @module
 */

import { AgentboxError, type AgentboxErrorOptions } from "../host/agentbox_error.ts";

/**
 * A guest image is missing, damaged, stale, or could not be built. The message is meant for the
 * user and says what to do next.
 *
 * @example
 * ```ts
 * import { ImageError } from "./errors.ts";
 * throw new ImageError('Image "default" is not built: run `agentbox images build`');
 * ```
 */
export class ImageError extends AgentboxError {
  /** Kind `unavailable` (code `image_unavailable`) unless the request itself is wrong. */
  constructor(message: string, options?: ErrorOptions & Partial<AgentboxErrorOptions>) {
    super(message, { kind: "unavailable", code: "image_unavailable", ...options });
    this.name = "ImageError";
  }
}
