import assert from "node:assert/strict";
import { implicitShareProblem } from "./share_guard.ts";

Deno.test("share guard: /, the home, /tmp and system directories; not a project below them", () => {
  assert.equal(implicitShareProblem("/", "/root"), "the whole file system");
  assert.equal(implicitShareProblem("/root", "/root"), "your home directory");
  assert.equal(implicitShareProblem("/root/", "/root"), "your home directory");
  for (const dir of ["/tmp", "/var/tmp", "/etc", "/usr", "/home"]) {
    assert.equal(implicitShareProblem(dir, "/root"), "a system directory", dir);
  }
  assert.equal(implicitShareProblem("/root/project", "/root"), undefined);
  assert.equal(implicitShareProblem("/tmp/project", undefined), undefined);
});
