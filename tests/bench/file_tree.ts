/**
 * The benchmarks' many-small-files tree.
 *
 * @module
 */

/**
 * Write `files` small files into `root`, 1,000 to a directory (`src/d<N>/f<M>.txt`).
 *
 * @example
 * ```ts
 * import { makeFileTree } from "./file_tree.ts";
 * makeFileTree("/tmp/bench/tree", 100_000);
 * ```
 */
export function makeFileTree(root: string, files: number): void {
  for (let d = 0; d < files / 1000; d++) {
    const dir = `${root}/src/d${d}`;
    Deno.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 1000; f++) Deno.writeTextFileSync(`${dir}/f${f}.txt`, `${d}/${f}\n`);
  }
}
