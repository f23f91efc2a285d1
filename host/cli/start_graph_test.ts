/**
 * What the fast commands load before they run: the static module graph (imports that are not
 * dynamic `import()`) of the entry point and of `exec` (whose `--session` form is the hot path)
 * must not reach the sandbox lifecycle, the validator, the proxy or the VM layer. Those are
 * loaded with `import()` when a VM is booted. A regression here costs every `exec --session`
 * tens of milliseconds (tests/bench/session_exec.ts, docs/benchmarks.md).
 */
import assert from "node:assert/strict";
import { staticGraph } from "../../tests/module_graph.ts";

/** Loaded only when a VM boots, an image is built, a proxy runs or changes are applied. */
const HEAVY = [
  /^host\/api\/sandbox\.ts$/,
  /^host\/api\/sandbox_spec\.ts$/,
  /^host\/api\/session_owner\.ts$/,
  /^host\/api\/(changes|apply_changes)\.ts$/,
  /^host\/workspace\/apply/,
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

Deno.test("exec --session loads no CommonJS module (the first one costs ~25 ms: Node's module system)", async () => {
  const graph = await staticGraph("host/cli/exec.ts");
  const commonJs = graph.filter((path) => path.endsWith(".cjs") || path.endsWith("/node-index.js"));
  assert.deepEqual(commonJs, [], "CommonJS (or cbor-x's native-addon entry) loaded by exec");
  assert.ok(graph.some((path) => path.endsWith("node_modules/cbor-x/index.js")), graph.join("\n"));
});

Deno.test("the entry point alone (agentbox --version) loads a handful of modules", async () => {
  const graph = await staticGraph("host/main.ts");
  const heavy = graph.filter((path) => HEAVY.some((pattern) => pattern.test(path)));
  assert.deepEqual(heavy, []);
  assert.ok(graph.length < 15, `host/main.ts loads ${graph.length} modules:\n${graph.join("\n")}`);
});
