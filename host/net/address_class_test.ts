import assert from "node:assert/strict";
import { refusedAddressReason } from "./address_class.ts";

const REFUSED: Record<string, string> = {
  "0.0.0.0": "this-network",
  "10.1.2.3": "private",
  "100.64.0.1": "carrier-grade NAT",
  "100.127.255.255": "carrier-grade NAT",
  "127.0.0.1": "loopback",
  "127.255.0.9": "loopback",
  "169.254.169.254": "cloud metadata",
  "169.254.1.1": "link-local",
  "172.16.0.1": "private",
  "172.31.255.255": "private",
  "192.168.1.1": "private",
  "192.0.0.170": "IETF",
  "198.18.0.1": "benchmarking",
  "224.0.0.1": "multicast",
  "239.255.255.250": "multicast",
  "240.0.0.1": "reserved",
  "255.255.255.255": "broadcast",
  "::": "unspecified",
  "::1": "loopback",
  "::ffff:7f00:1": "IPv4-mapped",
  "::FFFF:8.8.8.8": "IPv4-mapped",
  "::7f00:1": "IPv4-compatible",
  "64:ff9b::7f00:1": "NAT64",
  "64:ff9b:1::1": "local NAT64",
  "2002:7f00:1::": "6to4",
  "2001:0:4136:e378::1": "Teredo",
  "fc00::1": "unique local",
  "fd12:3456::1": "unique local",
  "fe80::1": "link-local",
  "febf::1": "link-local",
  "fec0::1": "site-local",
  "ff02::1": "multicast",
  "not-an-ip": "not an IP",
  "127.1": "not an IP",
};

Deno.test("refusedAddressReason refuses every special-purpose class that matters", () => {
  for (const [address, label] of Object.entries(REFUSED)) {
    const reason = refusedAddressReason(address);
    assert.ok(reason?.startsWith(label), `${address}: ${reason}`);
  }
});

Deno.test("refusedAddressReason allows public and documentation unicast (positive control)", () => {
  const allowed = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "169.253.255.255",
    "203.0.113.80",
    "198.51.100.1",
    "192.0.2.1",
    "2001:db8::1",
    "2606:4700::1111",
    "2001:1::1",
  ];
  for (const address of allowed) assert.equal(refusedAddressReason(address), undefined, address);
});
