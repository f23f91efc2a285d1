import assert from "node:assert/strict";
import { redactQuery } from "./redact_query.ts";

Deno.test("redactQuery drops credential values and keeps everything else", () => {
  assert.equal(redactQuery(""), "");
  assert.equal(redactQuery("?alt=sse"), "?alt=sse");
  assert.equal(redactQuery("?alt=sse&key=AIzaSecret"), "?alt=sse&key=REDACTED");
  assert.equal(
    redactQuery("?X-Amz-Signature=abc&X-Amz-Credential=def&page=2"),
    "?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&page=2",
  );
  assert.equal(redactQuery("?access%5Ftoken=t&flag"), "?access%5Ftoken=REDACTED&flag");
  assert.equal(
    redactQuery("?api-key=1&api_key=2&apikey=3"),
    "?api-key=REDACTED&api_key=REDACTED&apikey=REDACTED",
  );
  assert.equal(redactQuery("?%E0%A4%A=1"), "?%E0%A4%A=1");
});
