/**
 * `@agentbox/sdk`: drive `agentbox serve` from TypeScript, on Deno and Node ≥ 20.
 *
 * @example
 * ```ts ignore
 * import { Sandbox } from "@agentbox/sdk";
 * await using sandbox = await Sandbox.create({ share: "/home/me/project", net: "none" });
 * const result = await sandbox.sh`ls -l ${"my dir"}`;
 * console.log(result.exitCode, result.stdout);
 * ```
 *
 * @module
 */

export { AgentboxError, CommandError } from "./src/errors.ts";
export type { ExecCallbacks, ExecEvent, ExecOptions, ExecResult } from "./src/exec.ts";
export { type FileOptions, Files, type WriteOptions } from "./src/files.ts";
export { Pty, PTY_SUBPROTOCOL, type PtyOptions, type PtySignal } from "./src/pty.ts";
export { quote, shellCommand, type ShellValue } from "./src/quote.ts";
export type { ServerEvent } from "./src/sse.ts";
export {
  Client,
  type ClientChoice,
  type DecisionListOptions,
  type ListOptions,
  Sandbox,
  type SnapshotInfo,
} from "./src/sandbox.ts";
export { type Body, type ConnectionOptions, defaultSocketPath } from "./src/transport.ts";
export type * from "./src/types.ts";
export { VERSION } from "./src/version.ts";
