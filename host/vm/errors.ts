/**
 * Errors of the VM layer. The CLI maps every {@linkcode VmError} to exit status 126.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/**
 * The VM could not be started, died, or stopped answering.
 *
 * @example
 * ```ts
 * import { VmError } from "./errors.ts";
 * throw new VmError("Cannot start QEMU: qemu-system-x86_64 is not installed");
 * ```
 */
export class VmError extends AgentboxError {
  /** Last lines of the guest console, when they help explain the failure. */
  readonly consoleTail?: string;

  constructor(
    message: string,
    options?: ErrorOptions & { consoleTail?: string; code?: string },
  ) {
    super(message, { ...options, kind: "vm", code: options?.code ?? "vm_failed" });
    this.name = "VmError";
    this.consoleTail = options?.consoleTail;
  }
}
