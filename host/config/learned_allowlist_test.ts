import assert from "node:assert/strict";
import { minimalAllowlist } from "./learned_allowlist.ts";
import { applyConfigText } from "./load_config.ts";
import { emptyPolicy } from "./policy.ts";

Deno.test("minimalAllowlist keeps only what the allowlist lacks, canonical and sorted", () => {
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[network]\nmode = "learn"\npresets = ["npm"]\ndeny = ["bad.test"]\ngray = ["g.test"]\n`,
    "x.toml",
  );
  const seen = (host: string) => ({ host, port: 443, kind: "connect" as const });
  const got = minimalAllowlist(
    [
      seen("Z.test."),
      seen("registry.npmjs.org"),
      seen("z.test"),
      seen("bad.test"),
      seen("g.test"),
      seen("a.test"),
      seen("203.0.113.9"),
    ],
    policy,
  );
  assert.deepEqual(got, ["a.test", "g.test", "z.test"]);
});
