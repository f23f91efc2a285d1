/**
 * A core event (host/api/events.ts) as agentbox's own line on stderr.
 *
 * @module
 */

import type { SandboxEvent } from "../api/events.ts";
import { escapeControls } from "../terminal_text.ts";
import { stderrLabel } from "./errors.ts";
import { output } from "./output_settings.ts";

/**
 * Print a core event for the user, as agentbox's own stderr line.
 *
 * @example
 * ```ts
 * import { printEvent } from "./print_event.ts";
 * printEvent({ type: "warning", message: "KVM is not available" });
 * ```
 */
export function printEvent(event: SandboxEvent): void {
  if (output.quiet) return;
  // Events can quote the guest (a collection warning): its controls are escaped.
  const message = escapeControls(event.message);
  console.error(
    event.type === "warning" ? `${stderrLabel("warning")}${message}` : `agentbox: ${message}`,
  );
}
