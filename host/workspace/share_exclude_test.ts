import assert from "node:assert/strict";
import { shareExclude } from "./share_exclude.ts";

Deno.test("share exclude: gitignore syntax, dir-only patterns, negation", () => {
  assert.equal(shareExclude([]), undefined);
  const ex = shareExclude(["node_modules/", "/target/", "*.log", "!keep.log"])!;
  assert.ok(ex.excludes("node_modules", true));
  assert.ok(ex.excludes("web/node_modules", true));
  assert.ok(!ex.excludes("node_modules", false)); // a file of that name is kept
  assert.ok(ex.excludes("target", true));
  assert.ok(!ex.excludes("crates/target", true)); // anchored
  assert.ok(ex.excludes("a/b.log", false));
  assert.ok(!ex.excludes("keep.log", false));
  assert.ok(!ex.excludes("src/main.rs", false));
});

Deno.test("share exclude: plainly named directories may be pruned, none when a pattern re-includes", () => {
  assert.deepEqual(
    shareExclude(["node_modules/", "*.log", "target", "/build", "a/b/", ".venv/"])!.pruneNames,
    ["node_modules", "target", ".venv"],
  );
  assert.deepEqual(shareExclude(["node_modules/", "!keep.log"])!.pruneNames, []);
});
