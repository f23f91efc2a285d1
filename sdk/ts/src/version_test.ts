import assert from "node:assert/strict";
import { VERSION as AGENTBOX_VERSION } from "../../../host/version.ts";
import { VERSION } from "./version.ts";

Deno.test("the SDK is versioned with agentbox: version.ts and package.json agree with it", async () => {
  const pkg = JSON.parse(await Deno.readTextFile(new URL("../package.json", import.meta.url)));
  assert.equal(VERSION, AGENTBOX_VERSION);
  assert.equal(pkg.version, AGENTBOX_VERSION);
  assert.equal(pkg.name, "@agentbox/sdk");
});
