/**
 * The egress wall in a real VM, on both guest networks: proxy-aware and proxy-ignoring clients
 * reach an allowed upstream and get a clear refusal elsewhere; raw TCP, UDP/DNS, ICMP, IPv6 and the
 * host's own services get nowhere. Each negative result is paired with a positive control (the
 * same probe with slirp's restriction lifted, or on the tap without its nftables wall, reaches its
 * target) and with counters kept by the targets themselves; the tap run also checks that the
 * wall counted its drops and that the namespace's ruleset and devices are as before.
 *
 * The scenarios run in a network namespace created here, where the "outside" address is on the
 * namespace's loopback: even a hole in the wall sends nothing to the real network.
 */
import assert from "node:assert/strict";
import { REPO } from "../helpers.ts";
import type { EgressReport, Mode } from "./egress_scenario.ts";
import { tapUnavailableReason } from "../../host/net/net_backend.ts";

const NAMESPACE_SETUP = "ip link set lo up && ip addr add 198.51.100.1/32 dev lo";

async function canCreateNetns(): Promise<string | undefined> {
  const probe = await new Deno.Command("unshare", {
    args: ["--net", "sh", "-c", NAMESPACE_SETUP],
    stdout: "null",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  return probe.success ? undefined : new TextDecoder().decode(probe.stderr).trim();
}

async function runScenario(mode: Mode): Promise<EgressReport> {
  const script = `${NAMESPACE_SETUP} && exec "$0" run --allow-all --config "$1" "$2" ${mode}`;
  const out = await new Deno.Command("unshare", {
    args: [
      "--net",
      "sh",
      "-c",
      script,
      Deno.execPath(),
      `${REPO}/deno.json`,
      `${REPO}/tests/vm/egress_scenario.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `scenario ${mode} failed:\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

const skipReason = await canCreateNetns();
if (skipReason) console.log(`skipped: egress VM tests need a network namespace: ${skipReason}`);
const tapSkipReason = skipReason ?? await tapUnavailableReason();
if (tapSkipReason && !skipReason) console.log(`skipped: tap egress test: ${tapSkipReason}`);

/** The walled run: only the proxies get out, only to allowed hosts; the targets saw nothing. */
function assertWalled(walled: EgressReport): void {
  const p = walled.probes;
  // Allowed host, with and without the proxy variables, plain and TLS.
  for (const name of ["proxyHttp", "transparentHttp"]) {
    assert.deepEqual(p[name], { code: 0, output: "upstream http\n" }, name);
  }
  for (const name of ["proxyHttps", "transparentHttps"]) {
    assert.deepEqual(p[name], { code: 0, output: "upstream https\n" }, name);
  }
  assert.equal(walled.received.upstream, 4);
  // Refusals say why and how to allow.
  assert.match(
    p.proxyDenied.output,
    /denied\.test:80 refused by default deny.*--allow denied\.test/,
  );
  assert.match(p.proxyIpLiteral.output, /198\.51\.100\.1:80 refused/);
  assert.notEqual(p.transparentDenied.code, 0);
  // Every other way out fails, and the targets saw nothing.
  for (const name of ["directTcp", "hostService", "outsideDns", "ping", "ipv6"]) {
    assert.notEqual(p[name].code, 0, `${name} must fail: ${p[name].output}`);
  }
  assert.deepEqual(
    [walled.received.outsideTcp, walled.received.outsideUdp, walled.received.hostService],
    [0, 0, 0],
  );
}

/** The positive control: without the wall the same probes reach their targets. */
function assertControl(open: EgressReport, hostServiceHits: number): void {
  const o = open.probes;
  assert.deepEqual(o.directTcp, { code: 0, output: "outside\n" });
  assert.deepEqual(o.hostService, { code: 0, output: "host service\n" });
  assert.equal(o.outsideDns.code, 0, o.outsideDns.output);
  assert.equal(o.ping.code, 0, o.ping.output);
  assert.ok(open.received.outsideTcp > 0 && open.received.outsideUdp > 0);
  assert.equal(open.received.hostService, hostServiceHits);
}

Deno.test({
  name: "vm egress (user network): only the proxy gets out, and only to allowed hosts",
  ignore: skipReason !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const [walled, open] = await Promise.all([
    runScenario("restricted"),
    runScenario("unrestricted"),
  ]);
  assertWalled(walled);
  // slirp has no IPv6 here at all (ipv6=off), so only the other probes have a control.
  assertControl(open, 1);
});

Deno.test({
  name: "vm egress (tap + nftables): only the proxy gets out; the wall leaves no trace",
  ignore: tapSkipReason !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const [walled, open] = await Promise.all([runScenario("tap"), runScenario("tap-unwalled")]);
  assertWalled(walled);
  assert.notEqual(walled.probes.otherSession.code, 0, walled.probes.otherSession.output);
  assert.ok(walled.tap!.drops > 0, "the wall counts what it drops");
  assertControl(open, 3);
  for (const name of ["ipv6", "otherSession"]) {
    assert.deepEqual(open.probes[name], { code: 0, output: "host service\n" }, name);
  }
  // The wall and the tap existed during the run and are gone after it.
  assert.match(walled.tap!.during, /table inet agentbox_[0-9a-f_]{36} \{/);
  assert.match(walled.tap!.during, /\bab[0-9a-f]{12}\b/);
  assert.equal(walled.tap!.after, walled.tap!.before);
  assert.equal(open.tap!.after, open.tap!.before);
});
