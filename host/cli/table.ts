/**
 * Plain-text tables for list commands (`ps`, `snapshot ls`).
 *
 * @module
 */

/**
 * Print `rows` (the first is the header) as left-aligned columns two spaces apart.
 *
 * @example
 * ```ts
 * import { printTable } from "./table.ts";
 * printTable([["NAME", "SIZE"], ["base", "12 MiB"]]);
 * ```
 */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
}
