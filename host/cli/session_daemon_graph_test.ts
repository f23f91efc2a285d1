/**
 * What a detached session's owner (`agentbox session-daemon`) keeps loaded while it idles: its
 * static module graph must not reach the TLS inspection's X.509 code (@peculiar/x509 and the
 * session CA), which is loaded with `import()` only when inspection is wanted. Loaded up front it
 * added ~4.5 MiB to every idle owner (docs/benchmarks.md, "Idle sessions").
 */
import assert from "node:assert/strict";
import { staticGraph } from "../../tests/module_graph.ts";

const X509 = [
  /node_modules\/(@peculiar|reflect-metadata|asn1js|pkijs|@peculiar\/asn1-[\w-]+)\//,
  /^host\/tls\/(session_ca|ca_file|name_constraints|tls_inspection|leaf_cache)\.ts$/,
];

Deno.test("the session owner loads no X.509 code until TLS inspection is wanted", async () => {
  const graph = await staticGraph("host/cli/session_daemon.ts");
  const x509 = graph.filter((path) => X509.some((pattern) => pattern.test(path)));
  assert.deepEqual(x509, [], "loaded statically by host/cli/session_daemon.ts");
  // It still loads what every session needs: the proxy and the guest's trust files.
  assert.ok(graph.includes("host/tls/guest_trust.ts"), graph.join("\n"));
  assert.ok(graph.some((path) => path.startsWith("host/proxy/")), graph.join("\n"));
});
