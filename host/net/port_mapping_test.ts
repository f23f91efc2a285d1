import assert from "node:assert/strict";
import { UsageError } from "../agentbox_error.ts";
import { formatForwardAddress, parsePortMapping } from "./port_mapping.ts";

Deno.test("parsePortMapping: docker's forms, loopback by default", () => {
  assert.deepEqual(parsePortMapping("8080:80"), {
    hostname: "127.0.0.1",
    hostPort: 8080,
    guestPort: 80,
  });
  assert.deepEqual(parsePortMapping("0.0.0.0:0:3000"), {
    hostname: "0.0.0.0",
    hostPort: 0,
    guestPort: 3000,
  });
  assert.deepEqual(parsePortMapping("[::1]:9000:9000"), {
    hostname: "::1",
    hostPort: 9000,
    guestPort: 9000,
  });
  assert.equal(formatForwardAddress("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(formatForwardAddress("::1", 80), "[::1]:80");
});

Deno.test("parsePortMapping: bad forms are usage errors that say the form", () => {
  for (
    const bad of [
      "80",
      "",
      "a:b",
      "8080:0",
      "8080:65536",
      "-1:80",
      "localhost:8080:80",
      "1.2.3.4.5:80:80",
      "::1:8080:80",
      "8080:80:90:100",
      "1e3:80",
      "127.0.0.1:8080:80\n",
    ]
  ) {
    assert.throws(
      () => parsePortMapping(bad),
      (e) =>
        e instanceof UsageError && e.code === "port_mapping_invalid" &&
        /HOST_PORT:GUEST_PORT/.test(e.message),
      JSON.stringify(bad),
    );
  }
});
