import assert from "node:assert/strict";
import { MAX_EDIT_DISTANCE, unifiedDiff } from "./unified_diff.ts";

/** Apply hunks to `before` (a minimal patch applier, to check the diffs are exact). */
function applyHunks(before: string, lines: string[]): string {
  const source = before === "" ? [] : before.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  let at = 0;
  let noEol = before !== "" && !before.endsWith("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(line);
    if (header) {
      const start = Number(header[1]) - (header[2] === "0" ? 0 : 1);
      while (at < start) out.push(source[at++]);
      continue;
    }
    if (line.startsWith("\\")) continue;
    const eol = lines[i + 1]?.startsWith("\\") ?? false;
    if (line[0] === " " || line[0] === "-") assert.equal(source[at++], line.slice(1));
    if (line[0] === " " || line[0] === "+") {
      out.push(line.slice(1));
      noEol = eol;
    }
  }
  while (at < source.length) out.push(source[at++]);
  if (out.length === 0) return "";
  return out.join("\n") + (noEol && at === source.length ? "" : "\n");
}

Deno.test("unifiedDiff: one changed line with three lines of context", () => {
  const before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  assert.deepEqual(unifiedDiff(before, after), {
    lines: ["@@ -2,7 +2,7 @@", " 2", " 3", " 4", "-5", "+five", " 6", " 7", " 8"],
    added: 1,
    removed: 1,
  });
});

Deno.test("unifiedDiff: new file, deleted file, identical files", () => {
  assert.deepEqual(unifiedDiff("", "a\nb\n").lines, ["@@ -0,0 +1,2 @@", "+a", "+b"]);
  assert.deepEqual(unifiedDiff("a\n", "").lines, ["@@ -1 +0,0 @@", "-a"]);
  assert.deepEqual(unifiedDiff("same\n", "same\n"), { lines: [], added: 0, removed: 0 });
});

Deno.test("unifiedDiff: a missing final newline is a change, and is marked", () => {
  assert.deepEqual(unifiedDiff("x\n", "x").lines, [
    "@@ -1 +1 @@",
    "-x",
    "+x",
    "\\ No newline at end of file",
  ]);
});

Deno.test("unifiedDiff: far-apart changes make separate hunks, close ones merge", () => {
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  const after = [...lines];
  after[2] = "changed 2";
  after[25] = "changed 25";
  const far = unifiedDiff(lines.join("\n") + "\n", after.join("\n") + "\n");
  assert.deepEqual(far.lines.filter((l) => l.startsWith("@@")), [
    "@@ -1,6 +1,6 @@",
    "@@ -23,7 +23,7 @@",
  ]);
  after[8] = "changed 8";
  const close = unifiedDiff(lines.join("\n") + "\n", after.join("\n") + "\n");
  assert.equal(close.lines.filter((l) => l.startsWith("@@")).length, 2);
  assert.equal(close.lines[0], "@@ -1,12 +1,12 @@");
});

Deno.test("unifiedDiff: random edits always patch back exactly", () => {
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const before = Array.from({ length: random(30) }, () => `${random(6)}`);
    const after = before.filter(() => random(4) !== 0);
    for (let i = random(6); i > 0; i--) after.splice(random(after.length + 1), 0, `${random(9)}`);
    const text = (lines: string[]) => lines.join("\n") + (lines.length && random(3) ? "\n" : "");
    const [a, b] = [text(before), text(after)];
    const diff = unifiedDiff(a, b);
    assert.equal(applyHunks(a, diff.lines), b, JSON.stringify({ a, b, lines: diff.lines }));
  }
});

Deno.test("unifiedDiff: beyond the edit-distance cap, the middle is replaced wholesale", () => {
  const n = MAX_EDIT_DISTANCE + 10;
  const a = Array.from({ length: n }, (_, i) => `a${i}`).join("\n") + "\n";
  const b = Array.from({ length: n }, (_, i) => `b${i}`).join("\n") + "\n";
  const start = performance.now();
  const diff = unifiedDiff(a, b);
  assert.ok(performance.now() - start < 5000);
  assert.equal(diff.added, n);
  assert.equal(diff.removed, n);
  assert.equal(applyHunks(a, diff.lines), b);
});
