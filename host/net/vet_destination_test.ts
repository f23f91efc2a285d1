import assert from "node:assert/strict";
import { canonicalHost } from "./canonical_host.ts";
import { NetError } from "./net_error.ts";
import { hostAddressCheck } from "./host_addresses.ts";
import { vetDestination } from "./vet_destination.ts";

const answers = (...addresses: string[]) => () => Promise.resolve(addresses);
const code = (c: string) => (e: unknown) => e instanceof NetError && e.code === c;

Deno.test("vetDestination returns public answers (positive control)", async () => {
  const got = await vetDestination(canonicalHost("ok.test"), {
    resolver: answers("203.0.113.5", "2001:db8::5"),
  });
  assert.deepEqual(got, ["203.0.113.5", "2001:db8::5"]);
});

Deno.test("vetDestination refuses a name resolving to 127.0.0.1", async () => {
  await assert.rejects(
    vetDestination(canonicalHost("evil.test"), { resolver: answers("127.0.0.1") }),
    code("refused_address"),
  );
});

Deno.test("vetDestination refuses a mixed answer even if the first address is public", async () => {
  await assert.rejects(
    vetDestination(canonicalHost("mixed.test"), {
      resolver: answers("203.0.113.5", "169.254.169.254"),
    }),
    code("refused_address"),
  );
});

Deno.test("vetDestination refuses IP literals unless allowed explicitly", async () => {
  const resolver = answers();
  await assert.rejects(
    vetDestination(canonicalHost("203.0.113.5"), { resolver }),
    code("ip_literal"),
  );
  const allowed = new Set(["203.0.113.5"]);
  assert.deepEqual(
    await vetDestination(canonicalHost("203.0.113.5"), { resolver, allowedIpLiterals: allowed }),
    ["203.0.113.5"],
  );
  await assert.rejects(
    vetDestination(canonicalHost("127.1"), { resolver, allowedIpLiterals: new Set(["127.0.0.1"]) }),
    code("refused_address"),
  );
});

Deno.test("vetDestination reports unresolvable names and slow resolvers", async () => {
  await assert.rejects(
    vetDestination(canonicalHost("nx.test"), { resolver: () => Promise.reject(new Error("x")) }),
    code("resolve_failed"),
  );
  await assert.rejects(
    vetDestination(canonicalHost("empty.test"), { resolver: answers() }),
    code("resolve_failed"),
  );
  await assert.rejects(
    vetDestination(canonicalHost("slow.test"), {
      resolver: () => new Promise(() => {}),
      timeoutMs: 20,
    }),
    code("resolve_failed"),
  );
});

Deno.test("vetDestination refuses the host's own interface addresses, and fails closed", async () => {
  const isHostAddress = hostAddressCheck({
    interfaces: () => [{ address: "198.51.100.7" }, { address: "2001:db8::7" }],
  });
  for (const address of ["198.51.100.7", "2001:db8:0::7", "2001:DB8::7"]) {
    await assert.rejects(
      vetDestination(canonicalHost("self.test"), { resolver: answers(address), isHostAddress }),
      (e) => code("refused_address")(e) && /an address of this host/.test(String(e)),
      address,
    );
  }
  // Positive control: a neighbour's address is not the host's.
  assert.deepEqual(
    await vetDestination(canonicalHost("peer.test"), {
      resolver: answers("198.51.100.8"),
      isHostAddress,
    }),
    ["198.51.100.8"],
  );
  await assert.rejects(
    vetDestination(canonicalHost("peer.test"), {
      resolver: answers("198.51.100.8"),
      isHostAddress: () => {
        throw new Error("no permission");
      },
    }),
    code("refused_address"),
  );
});

Deno.test("hostAddressCheck re-reads the interfaces once its reading is older than refreshMs", () => {
  let now = 0;
  let reads = 0;
  let current = ["198.51.100.7"];
  const isHost = hostAddressCheck({
    interfaces: () => (reads++, current.map((address) => ({ address }))),
    refreshMs: 1000,
    now: () => now,
  });
  assert.equal(isHost("198.51.100.7"), true);
  current = ["198.51.100.9", "fe80::1%eth0"];
  now = 999;
  assert.equal(isHost("198.51.100.9"), false, "cached");
  now = 1000;
  assert.equal(isHost("198.51.100.9"), true, "re-read");
  assert.equal(isHost("fe80::1"), true, "zone ignored");
  assert.equal(isHost("198.51.100.7"), false, "gone");
  assert.equal(reads, 2);
  assert.equal(isHost("not an address"), false);
});
