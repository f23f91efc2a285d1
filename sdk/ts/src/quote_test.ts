import assert from "node:assert/strict";
import { HOSTILE } from "./hostile_strings.ts";
import { quote, shellCommand } from "./quote.ts";

Deno.test("quote wraps in single quotes and writes a quote as '\\''", () => {
  assert.equal(quote("abc"), "'abc'");
  assert.equal(quote(""), "''");
  assert.equal(quote("it's"), `'it'\\''s'`);
  assert.equal(quote(42), "'42'");
  assert.equal(quote(10n), "'10'");
});

Deno.test("quote refuses a NUL and values that are not words", () => {
  assert.throws(() => quote("a\0b"), TypeError);
  assert.throws(() => quote(null as unknown as string), TypeError);
  assert.throws(() => quote({} as unknown as string), TypeError);
  assert.throws(() => shellCommand`echo ${undefined as unknown as string}`, TypeError);
});

Deno.test("shellCommand: arrays become several words, an empty array none", () => {
  assert.equal(shellCommand`rm ${["a b", "c"]} x`, "rm 'a b' 'c' x");
  assert.equal(shellCommand`ls ${[]}`, "ls ");
  assert.equal(shellCommand`a${"1"}b${"2"}c`, "a'1'b'2'c");
});

Deno.test("every hostile string reaches a real /bin/sh as exactly one argument", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sdk-quote-" });
  try {
    const marker = `${dir}/pwned`;
    const values = HOSTILE.map((v) => v.replaceAll("/tmp/pwned", marker));
    const script = shellCommand`printf '%s\\0' ${values}; printf '%s\\0' ${"single"}`;
    const out = await new Deno.Command("/bin/sh", { args: ["-c", script], cwd: dir }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const words = new TextDecoder().decode(out.stdout).split("\0").slice(0, -1);
    assert.deepEqual(words, [...values, "single"]);
    assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
