/**
 * Find the file a command name refers to, as a shell would, so that "not found" is reported as
 * a clear `spawn_failed` instead of an exit status from a wrapper.
 *
 * @module
 */

import { ProtocolError } from "@agentbox/protocol";

/**
 * Resolve `name` against `path` (colon-separated). Names with a slash are taken as they are,
 * relative to `cwd`.
 *
 * @example
 * ```ts
 * import { resolveCommand } from "./resolve_command.ts";
 * console.assert(resolveCommand("sh", "/usr/bin:/bin").endsWith("/sh"));
 * ```
 */
export function resolveCommand(name: string, path = "", cwd = "/"): string {
  if (name.length === 0 || name.includes("\0")) {
    throw new ProtocolError("spawn_failed", "Cannot start a command with an empty name");
  }
  if (name.includes("/")) {
    const file = name.startsWith("/") ? name : `${cwd.replace(/\/$/, "")}/${name}`;
    if (!isExecutable(file)) {
      throw new ProtocolError("spawn_failed", `Cannot start ${name}: no such executable file`);
    }
    return file;
  }
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue;
    const file = `${dir.replace(/\/$/, "")}/${name}`;
    if (isExecutable(file)) return file;
  }
  throw new ProtocolError("spawn_failed", `Cannot start ${name}: command not found in PATH`);
}

function isExecutable(file: string): boolean {
  try {
    const info = Deno.statSync(file);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
