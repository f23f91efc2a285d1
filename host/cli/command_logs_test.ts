import assert from "node:assert/strict";
import { terminalLines } from "./command_logs.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("logs on a terminal: colours kept, other controls escaped, CRLF made LF, lines whole", () => {
  const r = terminalLines();
  assert.equal(
    decode(r.push(encode("\x1b[1;32mok\x1b[0m \x1b]52;c;aGk=\x07x\r\npart"))),
    "\x1b[1;32mok\x1b[0m \\x1b]52;c;aGk=\\x07x\n",
  );
  assert.equal(decode(r.push(encode("ial\x1b[2J\r\n"))), "partial\\x1b[2J\n");
  assert.equal(decode(r.push(encode("no end"))), "");
  assert.equal(decode(r.end()), "no end\n");
});
