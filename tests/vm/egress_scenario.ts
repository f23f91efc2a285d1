/**
 * The egress scenario behind egress_test.ts: boot a VM behind the session's proxies and probe
 * every way out from inside it. Runs inside a network namespace that egress_test.ts creates, where
 * the "outside" address 198.51.100.1 (documentation range) sits on the namespace's loopback, so
 * a hole in the wall would reach our own listener there and never the real network.
 *
 * Usage: `deno run -A tests/vm/egress_scenario.ts MODE` → one JSON line. Modes: `restricted`
 * (user network), `tap` (tap device behind its nftables wall), and their positive controls
 * showing that each probe *would* reach its target if the wall were not there: `unrestricted`
 * (slirp's restriction lifted) and `tap-unwalled` (the tap without its wall).
 */
import { applyConfigText } from "../../host/config/load_config.ts";
import { emptyPolicy } from "../../host/config/policy.ts";
import { startEgress } from "../../host/egress/egress.ts";
import { wallDrops } from "../../host/net/nft_wall.ts";
import { mappedDialer, selfSignedCert, tableResolver } from "../../host/proxy/testing/mod.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { answerQuery } from "../../guest-agent/dns_stub.ts";
import { networkState, readAll } from "../helpers.ts";

/** The address standing for "somewhere on the internet" inside the test's namespace. */
export const OUTSIDE = "198.51.100.1";

/** What one probe saw in the guest. */
export interface ProbeResult {
  code: number | null;
  output: string;
}

/** The scenario's report. */
export interface EgressReport {
  probes: Record<string, ProbeResult>;
  /** Connections or datagrams each target received: the evidence on the receiving side. */
  received: { upstream: number; outsideTcp: number; outsideUdp: number; hostService: number };
  /** Tap modes: packets the wall dropped, and the namespace's ruleset and links around the run. */
  tap?: { drops: number; before: string; during: string; after: string };
}

/** Every mode of the scenario. */
export const MODES = ["restricted", "unrestricted", "tap", "tap-unwalled"] as const;

/** One mode (see the module comment). */
export type Mode = typeof MODES[number];

const IPV6_HOST = "2001:db8:1::1";
const IPV6_GUEST = "2001:db8:1::2";
const HTTP_ADDR = "203.0.113.20";
const HTTPS_ADDR = "203.0.113.21";

async function scenario(mode: Mode): Promise<EgressReport> {
  const tap = mode.startsWith("tap");
  const before = tap ? await networkState() : "";
  const received = { upstream: 0, outsideTcp: 0, outsideUdp: 0, hostService: 0 };
  const { cert, key } = await selfSignedCert(["allowed.test"]);
  const reply = (text: string) => () => {
    received.upstream++;
    return new Response(text);
  };
  const quiet = { onListen() {} };
  const servers = [
    Deno.serve({ hostname: "127.0.0.1", port: 0, ...quiet }, reply("upstream http\n")),
    Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key, ...quiet }, reply("upstream https\n")),
    Deno.serve({ hostname: OUTSIDE, port: 8080, ...quiet }, () => {
      received.outsideTcp++;
      return new Response("outside\n");
    }),
    // On every address of the namespace, IPv4 and IPv6: the tap's gateway included.
    Deno.serve({ hostname: "::", port: 0, ...quiet }, () => {
      received.hostService++;
      return new Response("host service\n");
    }),
  ];
  const [http, https, , hostService] = servers;
  const dns = Deno.listenDatagram({ transport: "udp", hostname: OUTSIDE, port: 53 });
  const dnsLoop = (async () => {
    for await (const [packet, from] of dns) {
      received.outsideUdp++;
      const answer = answerQuery(packet, [203, 0, 113, 99]);
      if (answer) await dns.send(answer, from);
    }
  })().catch(() => {});

  const policy = emptyPolicy();
  applyConfigText(policy, '[network]\nallow = ["allowed.test"]\n', "egress_scenario");
  const sessionId = crypto.randomUUID();
  const egress = await startEgress({
    policy,
    recorder: { begin: () => 0, finish() {} },
    resolver: tableResolver({
      "allowed.test": [HTTP_ADDR, HTTPS_ADDR],
      "denied.test": [HTTP_ADDR, HTTPS_ADDR],
    }).resolver,
    dialer: mappedDialer({
      [`${HTTP_ADDR}:80`]: http.addr.port,
      [`${HTTPS_ADDR}:443`]: https.addr.port,
    }).dialer,
  }, { backend: tap ? "tap" : "user", sessionId, wall: mode !== "tap-unwalled" });
  const network = egress.network.kind === "user"
    ? { ...egress.network, restrict: mode === "restricted" }
    : egress.network;
  const gateway = network.kind === "tap" ? network.gateway : "10.0.2.2";
  // Another session's tap network beside this one, walled (or not) alike: its gateway is where
  // its proxies listen, and this guest must not reach it.
  const neighbour = tap
    ? await startEgress(
      { policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } },
      { backend: "tap", sessionId: crypto.randomUUID(), wall: mode !== "tap-unwalled" },
    )
    : undefined;
  // The IPv6 target, on the tap's host end; refused there when the wall switched IPv6 off.
  if (network.kind === "tap") {
    await ip(["address", "add", `${IPV6_HOST}/64`, "dev", network.ifname, "nodad"]);
  }
  const vm = await bootVm({ network });
  let during = "";
  try {
    const probe = async (script: string): Promise<ProbeResult> => {
      const handle = vm.agent.exec({ argv: ["sh", "-c", `${script} 2>&1`], env: egress.guestEnv });
      const [out, , result] = await Promise.all([
        readAll(handle.stdout),
        readAll(handle.stderr),
        handle.result,
      ]);
      return { code: result.code, output: new TextDecoder().decode(out).slice(0, 400) };
    };
    // Probes expected to fail wait 8 s at most; the others get time for a loaded machine.
    const direct = "curl -sS -m 8 --noproxy '*'";
    const transparent = "curl -sS -m 20 --noproxy '*'";
    const scripts: Record<string, string> = {
      proxyHttp: "curl -sS -m 20 http://allowed.test/",
      proxyHttps: "curl -sS -m 20 -k https://allowed.test/",
      proxyDenied: "curl -sS -m 20 http://denied.test/",
      proxyIpLiteral: `curl -sS -m 20 http://${OUTSIDE}/`,
      transparentHttp: `${transparent} http://allowed.test/`,
      transparentHttps: `${transparent} -k https://allowed.test/`,
      transparentDenied: `${transparent} -k https://denied.test/`,
      directTcp: `${direct} http://${OUTSIDE}:8080/`,
      hostService: `${direct} http://${gateway}:${hostService.addr.port}/`,
      outsideDns: `timeout 8 nslookup example.test ${OUTSIDE}`,
      ping: `ping -c 1 -W 5 ${OUTSIDE}`,
      // Busybox's ip has no nodad: wait out duplicate address detection.
      ipv6: `ip -6 address add ${IPV6_GUEST}/64 dev eth0 && sleep 3; ` +
        `${direct} -g http://[${IPV6_HOST}]:${hostService.addr.port}/`,
    };
    if (neighbour?.network.kind === "tap") {
      scripts.otherSession =
        `${direct} http://${neighbour.network.gateway}:${hostService.addr.port}/`;
    }
    const names = Object.keys(scripts);
    const results = await Promise.all(names.map((name) => probe(scripts[name])));
    if (tap) during = await networkState();
    const drops = mode === "tap" ? await wallDrops(sessionId) : 0;
    const report = { probes: Object.fromEntries(names.map((n, i) => [n, results[i]])), received };
    return tap ? { ...report, tap: { drops, before, during, after: "" } } : report;
  } finally {
    await vm.stop();
    await egress.close();
    await neighbour?.close();
    dns.close();
    await dnsLoop;
    await Promise.all(servers.map((s) => s.shutdown()));
  }
}

/** Run `ip ARGS`; a failure is fine (an address refused by a tap without IPv6). */
async function ip(args: string[]): Promise<void> {
  await new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).output();
}

if (import.meta.main) {
  const mode = Deno.args[0] as Mode;
  if (!MODES.includes(mode)) {
    console.error(`usage: egress_scenario.ts ${MODES.join("|")}`);
    Deno.exit(2);
  }
  const report = await scenario(mode);
  if (report.tap) report.tap.after = await networkState();
  console.log(JSON.stringify(report));
}
