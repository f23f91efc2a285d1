/**
 * The `[workspace]` table of the user's configuration: how much of the host's disk a guest's
 * changes may take. `workspace.max_changes` caps a changeset's content (the files' announced
 * sizes: a sparse file counts at its full size); `workspace.state_reserve` is free space on the
 * file system of agentbox's state directory that agentbox never uses — neither for a session's
 * writable disk nor for the changes it collects. Both are "user only" keys: a project's
 * `.agentbox.toml` is writable by the sandbox, so a `[workspace]` table there is refused.
 *
 * @module
 */

import { configDir } from "../paths.ts";
import { DEFAULT_WORKSPACE_LIMITS, type WorkspaceLimits } from "../workspace/workspace_limits.ts";
import { ConfigError } from "./config_error.ts";
import { checkKeys, table, type Where } from "./toml_values.ts";
import { readConfigToml } from "./vm_settings.ts";
import { refuseUserOnlyTables } from "./user_only_tables.ts";

const KEYS = ["max_changes", "state_reserve"];

export { DEFAULT_WORKSPACE_LIMITS, type WorkspaceLimits };

/** Sources of {@linkcode loadWorkspaceLimits}. */
export interface LoadWorkspaceLimitsOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine; `null`: none. */
  userFile?: string | null;
  /** Project directory whose `.agentbox.toml` must not have a `[workspace]` table. */
  projectDir?: string;
}

/**
 * Read `[workspace]` from the user's file, defaults for what it does not set. Throws
 * {@linkcode ConfigError} for a bad value, an unknown key, or a `[workspace]` table in the
 * project's file.
 *
 * @example
 * ```ts
 * import { loadWorkspaceLimits } from "./workspace_settings.ts";
 * const limits = await loadWorkspaceLimits({ userFile: "/nonexistent/config.toml" });
 * console.assert(limits.maxChangesBytes === 8 * 1024 ** 3);
 * ```
 */
export async function loadWorkspaceLimits(
  options: LoadWorkspaceLimitsOptions = {},
): Promise<WorkspaceLimits> {
  if (options.projectDir !== undefined) {
    await refuseUserOnlyTables(options.projectDir, ["workspace"]);
  }
  const limits = { ...DEFAULT_WORKSPACE_LIMITS };
  if (options.userFile === null) return limits;
  const file = options.userFile ?? `${configDir()}/config.toml`;
  const doc = await readConfigToml(file);
  if (doc?.values.workspace === undefined) return limits;
  const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
  const ws = table(doc.values.workspace, where("workspace"));
  checkKeys(ws, KEYS, "workspace", where);
  if (ws.max_changes !== undefined) {
    limits.maxChangesBytes = byteSize(ws.max_changes, where("workspace.max_changes"));
  }
  if (ws.state_reserve !== undefined) {
    limits.stateReserveBytes = byteSize(ws.state_reserve, where("workspace.state_reserve"));
  }
  return limits;
}

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  K: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GIB: 1024 ** 3,
  T: 1024 ** 4,
  TIB: 1024 ** 4,
};

/**
 * A size: a whole number of bytes, or a string such as `"512 MiB"`, `"8G"` (binary units: K, M,
 * G, T, with or without `iB`).
 *
 * @example
 * ```ts
 * import { byteSize } from "./workspace_settings.ts";
 * console.assert(byteSize("2 GiB", { file: "c.toml", key: "k" }) === 2 * 1024 ** 3);
 * ```
 */
export function byteSize(value: unknown, loc: ReturnType<Where>): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  const match = typeof value === "string" ? /^(\d+)\s*([a-z]*)$/i.exec(value.trim()) : null;
  const unit = match && UNITS[match[2].toUpperCase()];
  const bytes = match && unit ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new ConfigError(
      loc,
      'must be a number of bytes or a size such as "512 MiB" or "8 GiB"',
    );
  }
  return bytes;
}
