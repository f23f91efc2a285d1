import assert from "node:assert/strict";
import { canonicalHost } from "./canonical_host.ts";
import { NetError } from "./net_error.ts";

Deno.test("canonicalHost lower-cases, strips the trailing dot and applies IDNA", () => {
  assert.deepEqual(canonicalHost("Example.COM."), { name: "example.com", kind: "dns" });
  assert.deepEqual(canonicalHost("bücher.de"), { name: "xn--bcher-kva.de", kind: "dns" });
  assert.deepEqual(canonicalHost("xn--bcher-kva.de"), { name: "xn--bcher-kva.de", kind: "dns" });
});

Deno.test("canonicalHost normalises IPv4 literals in every legacy spelling", () => {
  for (const raw of ["127.1", "0x7f.1", "2130706433", "0177.0.0.1", "127.0.0.1."]) {
    assert.deepEqual(canonicalHost(raw), { name: "127.0.0.1", kind: "ipv4" }, raw);
  }
});

Deno.test("canonicalHost normalises IPv6 literals with or without brackets", () => {
  assert.deepEqual(canonicalHost("[::FFFF:127.0.0.1]"), { name: "::ffff:7f00:1", kind: "ipv6" });
  assert.deepEqual(canonicalHost("0:0:0:0:0:0:0:1"), { name: "::1", kind: "ipv6" });
});

Deno.test("canonicalHost refuses things that are not a bare host", () => {
  const bad = [
    "",
    "a b.com",
    "user@example.com",
    "example.com:443",
    "example.com/path",
    "a..b",
    "-lead.com",
    "x".repeat(64) + ".com",
    "1.2.3.4.5",
    "exa%6dple.com",
    "[::1",
  ];
  for (const raw of bad) {
    assert.throws(
      () => canonicalHost(raw),
      (e) => e instanceof NetError && e.code === "invalid_host",
      raw,
    );
  }
});
