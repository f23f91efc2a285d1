import assert from "node:assert/strict";
import { parseAptCacheDepends, parsePrintUris } from "./debian.ts";

Deno.test("parseAptCacheDepends keeps real packages once", () => {
  const text = "curl\n  Depends: libc6\n  Depends: <libfoo>\nlibc6\n  PreDepends: libgcc-s1\n" +
    "<awk>\ncurl\n";
  assert.deepEqual(parseAptCacheDepends(text), ["curl", "libc6"]);
});

Deno.test("parsePrintUris reads file name, size and digest", () => {
  const sha = "0dd9b6bf7a0bd11af2d68a52ec44c2a223fa7c11f9104c36ce1047e1137d4a8f";
  const text =
    `'http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10%2bdeb12u15_amd64.deb' ` +
    `curl_7.88.1-10+deb12u15_amd64.deb 315764 SHA256:${sha}\nW: something\n`;
  assert.deepEqual(parsePrintUris(text), [
    { filename: "curl_7.88.1-10+deb12u15_amd64.deb", size: 315764, sha256: sha },
  ]);
});
