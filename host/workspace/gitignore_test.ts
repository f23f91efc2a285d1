import assert from "node:assert/strict";
import { takeBaseline } from "./baseline.ts";
import { hostIgnoreMatcher, matchRules, parseGitignore } from "./gitignore.ts";

function ignored(text: string, path: string, isDir = false): boolean | undefined {
  return matchRules(parseGitignore(text, ""), path, isDir);
}

Deno.test("gitignore: globs match the last component at any depth unless anchored", () => {
  assert.equal(ignored("*.log", "a/b/c.log"), true);
  assert.equal(ignored("*.log", "a.log.txt"), undefined);
  assert.equal(ignored("/build", "build"), true);
  assert.equal(ignored("/build", "src/build"), undefined);
  assert.equal(ignored("doc/*.txt", "doc/a.txt"), true);
  assert.equal(ignored("doc/*.txt", "doc/x/a.txt"), undefined);
  assert.equal(ignored("doc/*.txt", "x/doc/a.txt"), undefined);
  assert.equal(ignored("fo?.[ch]", "foo.c"), true);
  assert.equal(ignored("fo?.[!ch]", "foo.c"), undefined);
  assert.equal(ignored("fo?.[!ch]", "foo.o"), true);
});

Deno.test("gitignore: ** leading, trailing and in the middle", () => {
  assert.equal(ignored("**/logs", "a/b/logs", true), true);
  assert.equal(ignored("**/logs", "logs", true), true);
  assert.equal(ignored("out/**", "out/a/b"), true);
  assert.equal(ignored("out/**", "out", true), undefined);
  assert.equal(ignored("a/**/z", "a/z"), true);
  assert.equal(ignored("a/**/z", "a/b/c/z"), true);
  assert.equal(ignored("a/**/z", "b/a/z"), undefined);
});

Deno.test("gitignore: negation, dir-only, comments, escapes, trailing spaces", () => {
  assert.equal(ignored("*.log\n!keep.log", "keep.log"), false);
  assert.equal(ignored("*.log\n!keep.log", "other.log"), true);
  assert.equal(ignored("cache/", "cache", false), undefined);
  assert.equal(ignored("cache/", "cache", true), true);
  assert.equal(ignored("# comment\n\\#hash", "#hash"), true);
  assert.equal(ignored("# comment", "# comment"), undefined);
  assert.equal(ignored("\\!bang", "!bang"), true);
  assert.equal(ignored("name   \r", "name"), true);
  assert.equal(ignored("a.b", "axb"), undefined);
});

Deno.test("hostIgnoreMatcher reads the host's ignore files, deeper ones win, .git is never hidden", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub/deeper`, { recursive: true });
    await Deno.mkdir(`${dir}/.git/info`, { recursive: true });
    await Deno.writeTextFile(`${dir}/.gitignore`, "*.tmp\nnode_modules/\n.git\n");
    await Deno.writeTextFile(`${dir}/sub/.gitignore`, "!important.tmp\n/local\n");
    await Deno.writeTextFile(`${dir}/.git/info/exclude`, "secret.txt\n");
    const baseline = await takeBaseline(dir);
    // Written after the baseline: an ignore file the session did not start with is not read.
    await Deno.writeTextFile(`${dir}/sub/deeper/.gitignore`, "*\n");
    const matcher = hostIgnoreMatcher(baseline, baseline.root);
    const check = (path: string, isDir = false) => matcher.ignored(path, isDir);
    assert.equal(await check("a.tmp"), true);
    assert.equal(await check("sub/important.tmp"), false);
    assert.equal(await check("important.tmp"), true);
    assert.equal(await check("sub/local"), true);
    assert.equal(await check("local"), false);
    assert.equal(await check("node_modules/x/index.js"), true);
    assert.equal(await check("node_modules", true), true);
    assert.equal(await check("secret.txt"), true);
    assert.equal(await check("sub/deeper/file"), false);
    assert.equal(await check(".git/config"), false);
    assert.equal(await check(".git/hooks/pre-commit"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostIgnoreMatcher: nothing under an ignored directory can be re-included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/.gitignore`, "build/\n!build/keep\n");
    const matcher = hostIgnoreMatcher(await takeBaseline(dir), dir);
    assert.equal(await matcher.ignored("build/keep", false), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostIgnoreMatcher does not follow a symlinked .gitignore", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/elsewhere`, "*\n");
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/.gitignore`);
    const matcher = hostIgnoreMatcher(await takeBaseline(dir), dir);
    assert.equal(await matcher.ignored("a.txt", false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
