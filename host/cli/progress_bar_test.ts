import assert from "node:assert/strict";
import { ProgressLine, renderBar } from "./progress_bar.ts";

Deno.test("renderBar fills in proportion and clamps", () => {
  assert.equal(renderBar(0, 4), "[----]   0%");
  assert.equal(renderBar(0.5, 4), "[##--]  50%");
  assert.equal(renderBar(2, 4), "[####] 100%");
  assert.equal(renderBar(undefined), "");
});

Deno.test("ProgressLine redraws in place on a terminal and prints phase changes otherwise", () => {
  let terminal = "";
  const live = new ProgressLine({ terminal: true, write: (t) => terminal += t });
  live.update({ label: "apt: installing: git", fraction: 0.25 });
  live.clear();
  assert.ok(terminal.startsWith("\r\x1b[K  ["));
  assert.ok(terminal.endsWith("\r\x1b[K"));

  const lines: string[] = [];
  const plain = new ProgressLine({ terminal: false, write: (t) => lines.push(t) });
  plain.update({ label: "apt: installing: Unpacking git", fraction: 0.1 });
  plain.update({ label: "apt: installing: Unpacking jq", fraction: 0.2 });
  plain.update({ label: "apt: cleaning: done" });
  plain.update({ label: "debootstrap: extracting 1" });
  plain.update({ label: "debootstrap: extracting 2" });
  assert.equal(lines.length, 3);
  assert.ok(lines.every((line) => line.endsWith("\n") && !line.includes("\r")));
});
