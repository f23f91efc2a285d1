/**
 * Benchmarks start servers in child processes that print one JSON line when they listen.
 *
 * @module
 */

/**
 * Read the child's first stdout line (its "ready" report) and stop reading stdout.
 *
 * @example
 * ```ts ignore
 * import { readyLine } from "./child_ready.ts";
 * const { port } = JSON.parse(await readyLine(child, "the proxy child"));
 * ```
 */
export async function readyLine(child: Deno.ChildProcess, what: string): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${what} exited before listening`);
    line += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return line;
}
