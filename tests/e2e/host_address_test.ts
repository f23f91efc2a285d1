/**
 * The proxy refuses a name that resolves to one of the host's own interface addresses — here a
 * public-looking (documentation-range) IPv4 and a global IPv6 address on a veth interface of a
 * network namespace made for the test — where a service bound to `[::]` listens; a peer
 * namespace's addresses on the same link stay reachable (the positive control, with the peer's
 * answer as evidence on the receiving side).
 */
import assert from "node:assert/strict";
import { namespacePair, REPO } from "../helpers.ts";

const PORT = 8080;

let namespaces = { host: "", peer: "" };
const skipReason = await namespacePair().then((pair) => {
  namespaces = pair;
  return undefined;
}, (err) => String(err));
if (skipReason) console.log(`skipped: host address tests: ${skipReason}`);

function probe(ns: string, args: string[]): Deno.Command {
  return new Deno.Command("ip", {
    args: [
      ...["netns", "exec", ns, Deno.execPath(), "run", "--allow-all", "--quiet"],
      `--config=${REPO}/deno.json`,
      `${REPO}/tests/e2e/netns_probe.ts`,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "a name resolving to one of the host's own interface addresses is refused; a peer's is not",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const peer = probe(namespaces.peer, ["serve", String(PORT), "peer"]).spawn();
  try {
    const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /listening/);
    reader.releaseLock();
    const out = await probe(namespaces.host, ["probe", String(PORT)]).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const report = JSON.parse(new TextDecoder().decode(out.stdout));
    const status = (host: string) => report.answers[host].split("\r\n")[0];
    for (const host of ["self4.test", "self6.test"]) {
      assert.match(status(host), /^HTTP\/1\.1 403/, `${host}: ${report.answers[host]}`);
      assert.match(report.answers[host], /x-agentbox-refusal: address_refused/);
      assert.match(report.answers[host], /an address of this host/);
    }
    assert.equal(
      report.hitsThroughProxy,
      0,
      "the host's own service got nothing through the proxy",
    );
    // Controls: the host's service answers on that address directly, and the peer's addresses
    // on the same link are reached through the proxy (the peer's own answer).
    assert.equal(report.direct, "hello from this host\n");
    assert.equal(report.hits, 1);
    for (const host of ["peer4.test", "peer6.test"]) {
      assert.match(status(host), /^HTTP\/1\.1 200/, `${host}: ${report.answers[host]}`);
      assert.match(report.answers[host], /hello from peer/);
    }
  } finally {
    peer.kill("SIGTERM");
    await peer.status;
  }
});
