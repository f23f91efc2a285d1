import assert from "node:assert/strict";
import { COMMANDS, main } from "../main.ts";
import { MAN_PAGE, renderManPage, roffText } from "./man_page.ts";

const cli = { commands: COMMANDS, run: main };

Deno.test("docs/agentbox.1 is the man page of the current help (deno task docs:man)", async () => {
  const wanted = await renderManPage(cli);
  assert.ok(
    wanted === await Deno.readTextFile(MAN_PAGE),
    "docs/agentbox.1 is stale: run `deno task docs:man`",
  );
});

Deno.test("man page: every command's help is in it, and man renders it", async () => {
  const page = await renderManPage(cli);
  for (const name of Object.keys(COMMANDS).filter((n) => n !== "help")) {
    assert.ok(page.includes(`.SS agentbox ${name}\n`), name);
  }
  assert.ok(page.includes(".SS agentbox images build\n"));
  const hasMan = await new Deno.Command("man", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  })
    .output().then((o) => o.success, () => false);
  if (!hasMan) return;
  const file = await Deno.makeTempFile({ suffix: ".1" });
  await Deno.writeTextFile(file, page);
  const out = await new Deno.Command("man", {
    args: ["-l", file],
    env: { MANPAGER: "cat", MANWIDTH: "100", LANG: "C.UTF-8" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  // Hyphens and backslashes survive roff: the options read as typed.
  assert.match(text, /--env-file FILE/);
  assert.match(text, /agentbox exec -e A=1 -- ls -la/);
});

Deno.test("roffText escapes what roff would take for requests or escapes", () => {
  assert.equal(roffText(".TH x\n'y\na\\b -c"), "\\&.TH x\n\\&'y\na\\eb \\-c");
});
