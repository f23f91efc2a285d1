/**
 * The top-level tables a configuration file may hold — one list for both files (the user's
 * `config.toml` and a project's `.agentbox.toml`). Anything else is an error naming the file and
 * the line: a misspelled `[netwrk]` would otherwise silently leave the network policy out. The
 * keys inside each table are checked by the loader that reads it (load_config.ts,
 * vm_settings.ts, workspace_settings.ts, share_settings.ts, inspect_config.ts, audit_settings.ts).
 *
 * A part of agentbox that adds a table adds it here (and to docs/configuration.md).
 *
 * @module
 */

import { editDistance } from "../edit_distance.ts";
import { ConfigError } from "./config_error.ts";
import type { Where } from "./toml_values.ts";

/** Every top-level table, and whether a project's `.agentbox.toml` may set it at all. */
export const CONFIG_TABLES: Readonly<Record<string, { project: boolean }>> = {
  network: { project: true },
  tools: { project: true },
  inspect: { project: true },
  credentials: { project: false },
  tls: { project: false },
  agents: { project: false },
  agent_home: { project: false },
  vm: { project: true },
  workspace: { project: false },
  share: { project: true },
  audit: { project: false },
};

/**
 * Refuse a top-level name of `doc` that is not a known table (a stray top-level key counts:
 * `mode = "open"` outside `[network]` would do nothing).
 *
 * @example
 * ```ts
 * import { checkTables } from "./config_tables.ts";
 * checkTables({ network: {} }, (key) => ({ file: "x.toml", key }));
 * ```
 */
export function checkTables(doc: Record<string, unknown>, where: Where): void {
  for (const name of Object.keys(doc)) {
    if (Object.hasOwn(CONFIG_TABLES, name)) continue;
    const known = Object.keys(CONFIG_TABLES).join(", ");
    const value = doc[name];
    const isTable = typeof value === "object" && value !== null;
    throw new ConfigError(
      where(name),
      `unknown ${isTable ? "table" : "top-level key"}${suggest(name)} (known tables: ${known})`,
    );
  }
}

/** ` (did you mean [network]?)` for a name one or two edits from a known table. */
function suggest(name: string): string {
  const near = Object.keys(CONFIG_TABLES).find((t) => editDistance(t, name) <= 2);
  return near ? `; did you mean [${near}]?` : "";
}
