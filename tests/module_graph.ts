/**
 * The static module graph of an entry point (imports that are not dynamic `import()`), from
 * `deno info --json`: what a command loads before it runs. Used by host/cli/start_graph_test.ts
 * and tests/bench/cli_commands.ts.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

interface Info {
  roots: string[];
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
  }[];
}

/**
 * Repository-relative paths (or npm package paths) `entry` (repository-relative) loads before it
 * runs. Throws when `deno info` fails.
 */
export async function staticGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `--config=${REPO}/deno.json`, `${REPO}/${entry}`],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code?.specifier) stack.push(dep.code.specifier);
    }
  }
  return [...seen].map((s) => s.replace(`file://${REPO}/`, "")).sort();
}
