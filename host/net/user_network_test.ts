import assert from "node:assert/strict";
import { findRelay, guestProxyEnv, userNetworkArgs } from "./user_network.ts";

Deno.test("userNetworkArgs: restricted slirp, no IPv6, one relay per forwarded port", () => {
  const args = userNetworkArgs({
    kind: "user",
    relay: "/bin/busybox",
    forwards: [{ guestPort: 3128, hostPort: 40001 }, { guestPort: 443, hostPort: 40002 }],
  });
  assert.deepEqual(args, [
    "-netdev",
    "user,id=net0,restrict=on,ipv6=off," +
    "guestfwd=tcp:10.0.2.100:3128-cmd:/bin/busybox nc 127.0.0.1 40001," +
    "guestfwd=tcp:10.0.2.100:443-cmd:/bin/busybox nc 127.0.0.1 40002",
    "-device",
    "virtio-net-device,netdev=net0",
  ]);
  const open = userNetworkArgs({
    kind: "user",
    relay: "/bin/busybox",
    forwards: [],
    restrict: false,
  });
  assert.match(open[1], /restrict=off/);
});

Deno.test("userNetworkArgs refuses values that would break the option list", () => {
  assert.throws(
    () => userNetworkArgs({ kind: "user", relay: "/bin/busy,box", forwards: [] }),
    /relay/,
  );
  assert.throws(() => userNetworkArgs({ kind: "user", relay: "/x nc", forwards: [] }), /relay/);
  for (const bad of [0, 65536, 1.5]) {
    assert.throws(
      () =>
        userNetworkArgs({
          kind: "user",
          relay: "/bin/busybox",
          forwards: [{ guestPort: 80, hostPort: bad }],
        }),
      /port/,
    );
  }
});

Deno.test("guestProxyEnv sets both spellings; findRelay finds the installed busybox", async () => {
  const env = guestProxyEnv();
  assert.equal(env.http_proxy, "http://10.0.2.100:3128");
  assert.equal(env.HTTPS_PROXY, env.https_proxy);
  assert.match(await findRelay(), /busybox$/);
});
