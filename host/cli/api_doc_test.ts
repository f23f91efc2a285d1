import assert from "node:assert/strict";
import { API_DOC, renderApiDoc } from "./api_doc.ts";
import { openApiDocument } from "./serve.ts";

Deno.test("docs/api.md is the current rendering of the OpenAPI document (deno task docs:api)", async () => {
  const wanted = renderApiDoc(openApiDocument() as Parameters<typeof renderApiDoc>[0]);
  const current = await Deno.readTextFile(API_DOC);
  assert.ok(wanted === current, "docs/api.md is stale: run `deno task docs:api`");
});

Deno.test("the OpenAPI document lists every resource the server serves", () => {
  const doc = openApiDocument();
  const paths = Object.keys(doc.paths ?? {});
  for (
    const path of [
      "/v1/sandboxes",
      "/v1/sandboxes/{id}",
      "/v1/sandboxes/{id}/exec",
      "/v1/sandboxes/{id}/pty",
      "/v1/sandboxes/{id}/files",
      "/v1/sandboxes/{id}/changes",
      "/v1/sandboxes/{id}/changes/apply",
      "/v1/sandboxes/{id}/snapshots",
      "/v1/images",
      "/v1/requests",
      "/v1/usage",
      "/v1/events",
    ]
  ) {
    assert.ok(paths.includes(path), `${path} missing from /openapi.json`);
  }
  assert.equal(doc.openapi, "3.1.0");
});
