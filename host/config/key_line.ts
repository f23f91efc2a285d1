/**
 * Find the line of a key in TOML text, for error messages (smol-toml reports positions only for
 * syntax errors). A best effort over the common layouts: `[table]` then `key = …`, dotted keys
 * (`network.allow = …`), `[tools.claude]` sub-tables and arrays of tables (`[[credentials]]`,
 * addressed as `credentials.0.env` for the first entry).
 *
 * @module
 */

/**
 * 1-based line of `key` (dotted path such as `network.allow` or `tools.claude.allow`), or
 * `undefined` when it cannot be located.
 *
 * @example
 * ```ts
 * import { keyLine } from "./key_line.ts";
 * console.assert(keyLine("[network]\nallow = []\n", "network.allow") === 2);
 * ```
 */
export function keyLine(text: string, key: string): number | undefined {
  const parts = key.split(".");
  const lines = text.split("\n");
  let table: string[] = [];
  const arrays = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const array = /^\[\[\s*([^\[\]]+?)\s*\]\]/.exec(line);
    if (array) {
      const name = array[1].split(".").map(unquote);
      const index = arrays.get(name.join(".")) ?? 0;
      arrays.set(name.join("."), index + 1);
      table = [...name, String(index)];
      if (same(table, parts)) return i + 1;
      continue;
    }
    const header = /^\[\s*([^\[\]]+?)\s*\]/.exec(line);
    if (header) {
      table = header[1].split(".").map(unquote);
      if (same(table, parts)) return i + 1;
      continue;
    }
    const assign = /^([^=#]+?)\s*=/.exec(line);
    if (assign && same([...table, ...assign[1].split(".").map(unquote)], parts)) return i + 1;
  }
  return undefined;
}

function unquote(s: string): string {
  return s.trim().replace(/^["'](.*)["']$/, "$1");
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
