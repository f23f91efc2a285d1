import assert from "node:assert/strict";
import { compileGlob, GlobError, pathSelector } from "./path_glob.ts";

Deno.test("* and ? stay inside one component", () => {
  const g = compileGlob("src/*.ts");
  assert.ok(g.test("src/a.ts"));
  assert.ok(!g.test("src/a/b.ts"));
  assert.ok(!g.test("src/a.tsx"));
  assert.ok(compileGlob("a?c").test("abc"));
  assert.ok(!compileGlob("a?c").test("a/c"));
});

Deno.test("** spans zero or more components", () => {
  const g = compileGlob("src/**/x.ts");
  assert.ok(g.test("src/x.ts"));
  assert.ok(g.test("src/a/b/x.ts"));
  assert.ok(!g.test("srcx.ts"));
  assert.ok(compileGlob("**").test("a/b/c"));
  assert.ok(compileGlob("docs/**").test("docs/a/b"));
  assert.ok(compileGlob("**/*.md").test("README.md"));
});

Deno.test("regex characters are literal; ./ and trailing / ignored", () => {
  assert.ok(compileGlob("a+b(c).txt").test("a+b(c).txt"));
  assert.ok(!compileGlob("a.txt").test("abtxt"));
  assert.ok(compileGlob("./src/").test("src"));
});

Deno.test("bad globs are refused", () => {
  assert.throws(() => compileGlob(""), GlobError);
  assert.throws(() => compileGlob("/etc/*"), GlobError);
});

Deno.test("a selector matches a path or any ancestor", () => {
  const selected = pathSelector(["src", "**/*.md"]);
  assert.ok(selected("src"));
  assert.ok(selected("src/deep/file.ts"));
  assert.ok(selected("docs/guide.md"));
  assert.ok(!selected("srcx/file.ts"));
  assert.ok(pathSelector([])("anything"));
});
