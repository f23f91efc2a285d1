/**
 * The `[share]` table: what of a shared directory is left out of the guest's copy. `share.exclude`
 * is a list of patterns in gitignore syntax (`node_modules/`, `target/`, `*.log`, `!keep.log`),
 * matched against paths relative to the shared directory by the `ignore` package
 * (host/workspace/share_exclude.ts). Both files may set it; the lists add up (user's first).
 *
 * @module
 */

import { configDir } from "../paths.ts";
import { ConfigError } from "./config_error.ts";
import { checkKeys, strings, table, type Where } from "./toml_values.ts";
import { readConfigToml, type Sourced } from "./vm_settings.ts";

const SHARE_KEYS = ["exclude"];

/** Longest pattern accepted (far above any real one). */
const MAX_PATTERN = 4096;

/** What `[share]` sets. */
export interface ShareSettings {
  /** `share.exclude`, each pattern with the file and line that set it. */
  exclude: Sourced<string>[];
}

/**
 * Read `[share]` from the user's file, then from the project's `.agentbox.toml` in `projectDir`.
 * Throws {@linkcode ConfigError} for an unknown key or a pattern that is not a non-empty string.
 *
 * @example
 * ```ts
 * import { loadShareSettings } from "./share_settings.ts";
 * const { exclude } = await loadShareSettings({ projectDir: Deno.cwd() });
 * console.log(exclude.map((p) => p.value));
 * ```
 */
export async function loadShareSettings(
  options: { userFile?: string | null; projectDir?: string } = {},
): Promise<ShareSettings> {
  const files = options.userFile === null ? [] : [options.userFile ?? `${configDir()}/config.toml`];
  if (options.projectDir !== undefined) files.push(`${options.projectDir}/.agentbox.toml`);
  const exclude: Sourced<string>[] = [];
  for (const file of files) {
    const doc = await readConfigToml(file);
    if (doc?.values.share === undefined) continue;
    const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
    const share = table(doc.values.share, where("share"));
    checkKeys(share, SHARE_KEYS, "share", where);
    for (const pattern of strings(share.exclude, where("share.exclude"))) {
      if (pattern.trim() === "" || pattern.length > MAX_PATTERN || pattern.includes("\0")) {
        throw new ConfigError(
          where("share.exclude"),
          `${JSON.stringify(pattern.slice(0, 80))} is not a pattern (gitignore syntax, such as ` +
            '"node_modules/")',
        );
      }
      exclude.push({ value: pattern, file, line: doc.lineOf("share.exclude") });
    }
  }
  return { exclude };
}
