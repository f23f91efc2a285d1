/**
 * Tables only the user's `config.toml` may hold (`[workspace]`, `[agents]`, `[agent_home]`,
 * `[audit]`): a project's `.agentbox.toml` is in the shared directory, writable by the sandbox, so
 * such a table there is an error rather than a setting.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { readConfigToml } from "./vm_settings.ts";

/**
 * Throw {@linkcode ConfigError} (naming the file and the line) when the `.agentbox.toml` of
 * `projectDir` has one of `tables`.
 *
 * @example
 * ```ts
 * import { refuseUserOnlyTables } from "./user_only_tables.ts";
 * await refuseUserOnlyTables("/nonexistent", ["workspace"]);
 * ```
 */
export async function refuseUserOnlyTables(
  projectDir: string,
  tables: readonly string[],
): Promise<void> {
  const file = `${projectDir}/.agentbox.toml`;
  const doc = await readConfigToml(file);
  if (!doc) return;
  for (const key of tables) {
    const value = doc.values[key];
    if (value === undefined) continue;
    // `[audit.file]` alone has no `[audit]` line: the first of its sub-tables is the place.
    const subKeys = typeof value === "object" && value !== null ? Object.keys(value) : [];
    const line = [key, ...subKeys.map((k) => `${key}.${k}`)].map(doc.lineOf).find((l) => l);
    throw new ConfigError(
      { file, key, line },
      "allowed in the user's config.toml only (the sandbox can write this file)",
    );
  }
}
