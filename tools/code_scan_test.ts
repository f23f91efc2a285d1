import assert from "node:assert/strict";
import { blankNonCode, findEdgeOnlyUses } from "./code_scan.ts";

const tokens = (source: string) => findEdgeOnlyUses(source).map((u) => `${u.line}:${u.token}`);

Deno.test("edge-only calls are found in code, with their line", () => {
  const source = [
    "console.log('a');",
    "globalThis.console.error(x);",
    "Deno.exit(1);",
    "const args = Deno.args;",
    "for await (const c of Deno.stdin.readable) {}",
    "Deno.stdout.write(bytes);",
    "const dir = Deno.cwd();",
    "if (confirm('sure?')) prompt('name');",
    "const v = `${console.log(1)}`;",
  ].join("\n");
  assert.deepEqual(tokens(source), [
    "1:console.log",
    "2:console.error",
    "3:Deno.exit",
    "4:Deno.args",
    "5:Deno.stdin",
    "6:Deno.stdout",
    "7:Deno.cwd",
    "8:confirm()",
    "8:prompt()",
    "9:console.log",
  ]);
});

Deno.test("comments, doc examples, strings, templates and regular expressions do not count", () => {
  const source = [
    "/**",
    " * @example",
    " * ```ts",
    " * console.log(Deno.args);",
    " * ```",
    " */",
    "// Deno.exit(1) is for edges",
    "const a = 'console.log(1)', b = \"Deno.cwd()\";",
    "const c = `confirm(${a}) and console.log`;",
    "const d = /console.log('x')\\/\"/g;",
    "const e = x / 2; // console.log",
    "return /Deno.exit/.test(s);",
  ].join("\n");
  assert.deepEqual(tokens(source), []);
});

Deno.test("names that only look like the globals do not count", () => {
  const source = [
    "const config = { console: { mode: 'Off' } };",
    "vm.console.close();",
    "interface C { console: ConsoleConfig }",
    "options.prompt(question);",
    "function confirm(question: string) {}",
    "const myconsole = 1; myconsole.toString();",
  ].join("\n");
  assert.deepEqual(tokens(source), []);
});

Deno.test("blankNonCode keeps offsets and line breaks", () => {
  const source = "a('x\\'y'); /* 1\n2 */ b(`t${c}\nu`);";
  const blanked = blankNonCode(source);
  assert.equal(blanked.length, source.length);
  assert.equal(blanked, "a('    '); " + "    \n    " + " b(` ${c}\n `);");
});
