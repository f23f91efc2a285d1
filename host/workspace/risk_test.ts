import assert from "node:assert/strict";
import { gitPathProblem, highRiskReason, symlinkRisk } from "./risk.ts";

Deno.test("anything under a .git component is git's", () => {
  for (const p of [".git", ".git/config", ".git/hooks/pre-commit", "sub/.git/config", ".GIT/x"]) {
    assert.ok(gitPathProblem(p), p);
  }
  for (const p of [".gitignore", "src/.github/x", "git/config", ".gitx/a"]) {
    assert.equal(gitPathProblem(p), undefined, p);
  }
});

Deno.test("files the host runs are high-risk", () => {
  for (
    const p of [
      ".envrc",
      "sub/.envrc",
      ".vscode/tasks.json",
      ".github/workflows/ci.yml",
      "package.json",
      "packages/a/package.json",
      ".agentbox.toml",
      "Makefile",
      "src/GNUmakefile",
      "rules.mk",
      "justfile",
    ]
  ) {
    assert.ok(highRiskReason(p), p);
  }
  for (const p of ["src/main.ts", "package.json.bak", "docs/Makefile.md", ".github/README.md"]) {
    assert.equal(highRiskReason(p), undefined, p);
  }
});

Deno.test("symlinks out of the project are high-risk", () => {
  assert.ok(symlinkRisk("x", "/etc"));
  assert.ok(symlinkRisk("x", ".."));
  assert.ok(symlinkRisk("a/b/c", "../../../outside"));
  assert.ok(symlinkRisk("a/b", "c/../../../x"));
  assert.equal(symlinkRisk("a/b", "../c"), undefined);
  assert.equal(symlinkRisk("a", "b/c"), undefined);
  assert.equal(symlinkRisk("a", "."), undefined);
});
