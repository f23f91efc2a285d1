/**
 * What the fast commands load before they run: the static module graph (imports that are not
 * dynamic `import()`) of the entry point and of `exec` (whose `--session` form is the hot path)
 * must not reach the sandbox lifecycle, the validator, the proxy or the VM layer. Those are
 * loaded with `import()` when a VM is booted. A regression here costs every `exec --session`
 * tens of milliseconds (tests/bench/session_exec.ts, docs/benchmarks.md).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

interface Info {
  roots: string[];
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
  }[];
}

/** Repository-relative paths (or npm package paths) `entry` loads before it runs. */
async function staticGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `--config=${REPO}/deno.json`, `${REPO}/${entry}`],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
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

/** Loaded only when a VM boots, an image is built or a proxy runs. */
const HEAVY = [
  /^host\/api\/sandbox\.ts$/,
  /^host\/api\/sandbox_spec\.ts$/,
  /^host\/api\/session_owner\.ts$/,
  /^host\/proxy\//,
  /^host\/tls\//,
  /^host\/vm\/(boot|qemu|cloud_hypervisor)/,
  /^image\/build/,
  /node_modules\/(zod|hono|@peculiar|smol-toml)\//,
];

Deno.test("exec (and so exec --session) loads no lifecycle, validator, proxy or VM code up front", async () => {
  const graph = await staticGraph("host/cli/exec.ts");
  const heavy = graph.filter((path) => HEAVY.some((pattern) => pattern.test(path)));
  assert.deepEqual(heavy, [], "loaded statically by host/cli/exec.ts");
  assert.ok(graph.includes("host/api/session_connect.ts"), graph.join("\n"));
});

Deno.test("the entry point alone (agentbox --version) loads a handful of modules", async () => {
  const graph = await staticGraph("host/main.ts");
  const heavy = graph.filter((path) => HEAVY.some((pattern) => pattern.test(path)));
  assert.deepEqual(heavy, []);
  assert.ok(graph.length < 15, `host/main.ts loads ${graph.length} modules:\n${graph.join("\n")}`);
});
