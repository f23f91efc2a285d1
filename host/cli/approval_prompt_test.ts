import assert from "node:assert/strict";
import { stdinLines, terminalApprover } from "./approval_prompt.ts";

/** A terminal stand-in: lines are typed by the test, output is collected. */
function fakeTerminal() {
  const typed: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];
  let output = "";
  return {
    io: {
      readLine: () =>
        new Promise<string | null>((resolve) => {
          const line = typed.shift();
          if (line !== undefined) resolve(line);
          else waiting.push(resolve);
        }),
      write: (text: string) => {
        output += text;
        return Promise.resolve();
      },
    },
    type(line: string | null) {
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else if (line !== null) typed.push(line);
    },
    get output() {
      return output;
    },
  };
}

const request = (host: string) => ({ host, port: 443, rule: `gray "${host}" (t.toml)` });

/** Ask about `host`, typing each of `lines` once the next prompt has been printed. */
async function askTyping(
  term: ReturnType<typeof fakeTerminal>,
  approve: ReturnType<typeof terminalApprover>,
  host: string,
  lines: string[],
): Promise<boolean> {
  const answer = approve(request(host));
  for (const line of lines) {
    const before = term.output.length;
    while (term.output.length === before) await new Promise((r) => setTimeout(r, 1));
    term.type(line);
  }
  return await answer;
}

Deno.test("approver: once asks again, session and always do not, deny denies", async () => {
  const term = fakeTerminal();
  const saved: string[] = [];
  const approve = terminalApprover(term.io, {
    allowAlways: (host) => Promise.resolve(void saved.push(host)),
  });
  assert.equal(await askTyping(term, approve, "a.test", ["o"]), true);
  assert.equal(await askTyping(term, approve, "a.test", ["d"]), false);
  // A line typed while no question is open is dropped, not taken as the next answer.
  term.type("a");
  assert.equal(await askTyping(term, approve, "a.test", ["maybe", "s"]), true);
  assert.equal(await approve(request("a.test")), true); // not asked again
  assert.equal(await askTyping(term, approve, "b.test", ["always"]), true);
  assert.equal(await approve(request("b.test")), true);
  assert.deepEqual(saved, ["b.test"]);
  assert.equal(term.output.match(/is graylisted/g)?.length, 5);
  assert.match(term.output, /answer o, s, a or d/);
});

Deno.test("approver: questions are asked one at a time; a session answer settles the queue", async () => {
  const term = fakeTerminal();
  const approve = terminalApprover(term.io, { allowAlways: () => Promise.resolve() });
  const first = approve(request("a.test"));
  const second = approve(request("a.test"));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(term.output.match(/is graylisted/g)?.length, 1);
  term.type("s");
  assert.deepEqual(await Promise.all([first, second]), [true, true]);
});

Deno.test("approver: no answer in time denies, and a late answer does not leak", async () => {
  const term = fakeTerminal();
  const approve = terminalApprover(term.io, {
    timeoutMs: 50,
    allowAlways: () => Promise.resolve(),
  });
  assert.equal(await approve(request("a.test")), false);
  assert.match(term.output, /no answer: denied/);
  term.type("o"); // the late answer to the first question
  const second = approve(request("b.test"));
  await new Promise((r) => setTimeout(r, 10));
  term.type("d");
  assert.equal(await second, false);
});

Deno.test("approver: end of input denies; a failing save still allows for the session", async () => {
  const term = fakeTerminal();
  const approve = terminalApprover(term.io, {
    allowAlways: () => Promise.reject(new Error("read-only file system")),
  });
  assert.equal(await askTyping(term, approve, "a.test", ["a"]), true);
  assert.match(term.output, /could not save the answer \(read-only file system\)/);
  assert.equal(await approve(request("a.test")), true);
  const pending = approve(request("c.test"));
  await new Promise((r) => setTimeout(r, 10));
  term.type(null);
  assert.equal(await pending, false);
});

Deno.test("stdinLines splits a real byte stream into lines", async () => {
  const bytes = new TextEncoder().encode("one\ntw");
  const stream = ReadableStream.from([bytes, new TextEncoder().encode("o\nthree")]);
  const readLine = stdinLines(stream);
  assert.deepEqual([await readLine(), await readLine(), await readLine(), await readLine()], [
    "one",
    "two",
    "three",
    null,
  ]);
});
