import assert from "node:assert/strict";
import { DOTFILE_RULE, HIGH_RISK_PATHS } from "./high_risk_paths.ts";
import { compileGlob } from "./path_glob.ts";
import {
  gitPathProblem,
  highRiskEntry,
  highRiskReason,
  resolvedSymlinkRisk,
  symlinkRisk,
  type TreeNode,
} from "./risk.ts";

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
  for (const p of ["src/main.ts", "package.json.bak", "docs/Makefile.md", "src/.gitignore"]) {
    assert.equal(highRiskReason(p), undefined, p);
  }
});

Deno.test("files host tools run by themselves are high-risk, at any depth (issue 14.6)", () => {
  for (
    const p of [
      ".claude/settings.json",
      ".claude/settings.local.json",
      "pkg/.claude/settings.json",
      ".mcp.json",
      "CLAUDE.md",
      "docs/CLAUDE.md",
      "AGENTS.md",
      "sub/AGENTS.md",
      ".npmrc",
      "web/.npmrc",
      ".yarnrc.yml",
      ".pnpmfile.cjs",
      ".cargo/config.toml",
      "crates/x/.cargo/config.toml",
      "rust-toolchain.toml",
      ".devcontainer/devcontainer.json",
      "lefthook.yml",
      "mise.toml",
      ".tool-versions",
      "conftest.py",
      "tests/unit/conftest.py",
      "gradle/wrapper/gradle-wrapper.properties",
      "app/gradle/wrapper/gradle-wrapper.jar",
      ".mvn/extensions.xml",
      ".github/actions/setup/action.yml",
      ".circleci/config.yml",
      "Jenkinsfile",
      "packages/web/.vscode/settings.json",
      "sub/.idea/workspace.xml",
      "sub/.github/workflows/ci.yml",
      "MAKEFILE",
      ".VSCode/tasks.json",
    ]
  ) {
    assert.ok(highRiskReason(p), p);
  }
});

Deno.test("every other dotfile and dot-directory is high-risk by default; ignore lists are not", () => {
  for (const p of [".prettierrc.js", "src/.eslintrc.cjs", ".newtool/config", "a/.b/c.txt"]) {
    assert.equal(highRiskEntry(p)?.source, DOTFILE_RULE.source, p);
  }
  for (const p of [".gitignore", "src/.dockerignore", ".editorconfig", "a/.gitkeep"]) {
    assert.equal(highRiskReason(p), undefined, p);
  }
  assert.ok(highRiskReason(".vscode/.gitignore"), "inert names stay risky inside a dot-directory");
});

Deno.test("each high-risk entry has a valid glob, a reason and a source, and docs/apply.md lists it", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/apply.md", import.meta.url));
  for (const entry of HIGH_RISK_PATHS) {
    compileGlob(entry.glob);
    assert.ok(entry.reason.length > 10, entry.glob);
    assert.match(entry.source, /^(https:\/\/|docs\/)/, entry.glob);
    const row = docs.split("\n").find((line) => line.startsWith(`| \`${entry.glob}\` `));
    assert.ok(row?.includes(entry.source), `docs/apply.md lacks the row of ${entry.glob}`);
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

Deno.test("symlinks are resolved through the planned tree, not read as text (issue 14.8)", async () => {
  const tree = new Map<string, TreeNode>([
    ["a", { type: "dir" }],
    ["a/up", { type: "symlink", target: ".." }],
    ["a/b", { type: "dir" }],
    ["a/b/deep", { type: "symlink", target: "../.." }],
    ["abs", { type: "symlink", target: "/etc" }],
    ["loop1", { type: "symlink", target: "loop2" }],
    ["loop2", { type: "symlink", target: "loop1" }],
    ["src", { type: "dir" }],
    ["src/lib", { type: "symlink", target: "../lib" }],
    ["lib", { type: "dir" }],
  ]);
  const lookup = (p: string) => Promise.resolve(tree.get(p));
  assert.equal(symlinkRisk("x", "a/up/../etc"), undefined, "read as text, it stays inside");
  const risky: [string, string][] = [
    ["x", "a/up/../etc"],
    ["x", "a/up/../../etc"],
    ["a/b/x", "deep/../passwd"],
    ["x", "abs/passwd"],
    ["x", "loop1"],
    ["a/up", ".."],
    ["a/self", "."],
  ];
  for (const [path, target] of risky) {
    assert.ok(await resolvedSymlinkRisk(path, target, lookup), `${path} -> ${target}`);
  }
  for (const [path, target] of [["x", "a/b"], ["x", "src/lib/m.ts"], ["a/y", "b/c.txt"]]) {
    assert.equal(
      await resolvedSymlinkRisk(path, target, lookup),
      undefined,
      `${path} -> ${target}`,
    );
  }
});
