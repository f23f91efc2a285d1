import assert from "node:assert/strict";
import { pickTapSubnet, SubnetExhaustedError } from "./tap_subnet.ts";

Deno.test("pickTapSubnet: the first /30 of the pool when nothing overlaps", () => {
  assert.deepEqual(pickTapSubnet(["127.0.0.1/8", "192.168.1.7/24"]), {
    gateway: "10.213.0.1",
    guest: "10.213.0.2",
    prefixLength: 30,
  });
});

Deno.test("pickTapSubnet: skips subnets of other taps, addresses and wider routes", () => {
  assert.equal(pickTapSubnet(["10.213.0.1/30", "10.213.0.6"]).gateway, "10.213.0.9");
  // A /24 route over the start of the pool pushes the choice past it.
  assert.equal(pickTapSubnet(["10.213.0.0/24"]).gateway, "10.213.1.1");
  // Unparseable entries (IPv6, junk) are ignored, not fatal.
  assert.equal(pickTapSubnet(["fe80::1/64", "nonsense"]).gateway, "10.213.0.1");
});

Deno.test("pickTapSubnet: a route covering the whole pool leaves nothing", () => {
  assert.throws(() => pickTapSubnet(["10.0.0.0/8"]), SubnetExhaustedError);
});
