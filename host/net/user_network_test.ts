import assert from "node:assert/strict";
import {
  createRelayKey,
  findRelay,
  guestProxyEnv,
  RELAY_KEY_LENGTH,
  relayArgv,
  type UserNetwork,
  userNetworkArgs,
} from "./user_network.ts";

const KEY = "/run/user/1000/agentbox/relay-1.key";

function network(overrides: Partial<UserNetwork> = {}): UserNetwork {
  return { kind: "user", relay: "/bin/busybox", relayKey: KEY, forwards: [], ...overrides };
}

Deno.test("userNetworkArgs: restricted slirp, no IPv6, one authenticated relay per forwarded port", () => {
  const args = userNetworkArgs(network({
    forwards: [{ guestPort: 3128, hostPort: 40001 }, { guestPort: 443, hostPort: 40002 }],
  }));
  assert.equal(args[0], "-netdev");
  const options = args[1].split(",");
  assert.deepEqual(options.slice(0, 4), ["user", "id=net0", "restrict=on", "ipv6=off"]);
  assert.equal(options.length, 6, "no comma inside a relay command");
  for (const [i, port] of [[4, 40001], [5, 40002]]) {
    const quoted = relayArgv(network(), port).map((arg) => `'${arg}'`).join(" ");
    const guestPort = port === 40001 ? 3128 : 443;
    assert.equal(options[i], `guestfwd=tcp:10.0.2.100:${guestPort}-cmd:${quoted}`);
  }
  assert.deepEqual(args.slice(2), ["-device", "virtio-net-device,netdev=net0"]);
  assert.match(userNetworkArgs(network({ restrict: false }))[1], /restrict=off/);
});

Deno.test("relayArgv: busybox sh with the key file and the port as arguments, never in the script", () => {
  const argv = relayArgv(network(), 40001);
  assert.deepEqual(argv.slice(0, 3), ["/bin/busybox", "sh", "-c"]);
  assert.deepEqual(argv.slice(4), ["agentbox-relay", "/bin/busybox", KEY, "40001"]);
  assert.ok(!argv[3].includes("'") && !argv[3].includes(","), argv[3]);
});

Deno.test("userNetworkArgs refuses values that would break the option list", () => {
  for (const bad of [{ relay: "/bin/busy,box" }, { relay: "/x nc" }, { relayKey: "/a b" }]) {
    assert.throws(
      () => userNetworkArgs(network({ ...bad, forwards: [{ guestPort: 80, hostPort: 1 }] })),
      /relay/,
    );
  }
  for (const bad of [0, 65536, 1.5]) {
    assert.throws(
      () => userNetworkArgs(network({ forwards: [{ guestPort: 80, hostPort: bad }] })),
      /port/,
    );
  }
});

Deno.test("createRelayKey: a fresh 0600 file per session holding the bytes the proxy expects", async () => {
  const [a, b] = [await createRelayKey(), await createRelayKey()];
  try {
    assert.equal(a.bytes.length, RELAY_KEY_LENGTH);
    assert.deepEqual(await Deno.readFile(a.path), a.bytes);
    assert.equal((await Deno.lstat(a.path)).mode! & 0o777, 0o600);
    assert.notDeepEqual(a.bytes, b.bytes);
  } finally {
    await a.remove();
    await b.remove();
  }
  await assert.rejects(() => Deno.lstat(a.path), Deno.errors.NotFound);
});

Deno.test("guestProxyEnv sets both spellings; findRelay finds the installed busybox", async () => {
  const env = guestProxyEnv();
  assert.equal(env.http_proxy, "http://10.0.2.100:3128");
  assert.equal(env.HTTPS_PROXY, env.https_proxy);
  assert.match(await findRelay(), /busybox$/);
});
