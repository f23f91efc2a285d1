import assert from "node:assert/strict";
import { stdinLines, terminalApprover, terminalAsker } from "./approval_prompt.ts";
import { answerApproval, listApprovals, queueApprover } from "../api/approvals.ts";
import { openContext } from "../api/context.ts";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { OutputGate } from "./output_gate.ts";

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
  approve: (request: { host: string; port: number; rule: string }) => Promise<boolean>,
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
  assert.match(term.output, /no answer: a\.test:443 denied/);
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

Deno.test("approver: the guest's output waits while a question is open; the answer names the host", async () => {
  const term = fakeTerminal();
  const gate = new OutputGate();
  // The guest's output and the question share one screen (the user's terminal).
  let screen = "";
  const io = {
    ...term.io,
    write: (text: string) => (screen += text, term.io.write(text)),
    pause: () => gate.hold(),
  };
  const decoder = new TextDecoder();
  const terminal = new WritableStream<Uint8Array>({
    write: (chunk) => void (screen += decoder.decode(chunk)),
  });
  // A hostile guest: erase the line, then print a fake question, again and again.
  const fake = new TextEncoder().encode("\x1b[2K\ragentbox: evil.test:443 is graylisted ");
  let stop = false;
  const guest = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 1));
      if (stop) controller.close();
      else controller.enqueue(fake);
    },
  }, { highWaterMark: 0 });
  const piping = guest.pipeTo(gate.writable(terminal));
  const saved: string[] = [];
  const approve = terminalApprover(io, {
    allowAlways: (host) => Promise.resolve(void saved.push(host)),
  });
  const until = async (predicate: () => boolean) => {
    while (!predicate()) await new Promise((r) => setTimeout(r, 1));
  };
  await until(() => screen.includes("evil.test"));
  const answer = approve(request("good.test"));
  await until(() => screen.includes("good.test:443 is graylisted"));
  const asked = screen.indexOf("agentbox: good.test:443 is graylisted");
  await new Promise((r) => setTimeout(r, 100)); // the guest keeps writing meanwhile
  term.type("a");
  assert.equal(await answer, true);
  const outcome =
    "agentbox: good.test:443 allowed always (added to network.allow in .agentbox.toml)\n";
  const answered = screen.indexOf(outcome);
  assert.ok(answered > asked, screen);
  const during = screen.slice(asked, answered + outcome.length);
  assert.ok(!during.includes("evil.test") && !during.includes("\x1b"), JSON.stringify(during));
  // Controls: the guest wrote before the question and writes again after the answer.
  assert.ok(screen.slice(0, asked).includes("evil.test"));
  const after = screen.length;
  await until(() => screen.length > after);
  assert.match(screen.slice(answered + outcome.length), /evil\.test/);
  stop = true;
  await piping;
  assert.deepEqual(saved, ["good.test"]);
});

Deno.test("output gate: a hold waits for the chunk being written; holds nest", async () => {
  const gate = new OutputGate();
  const written: string[] = [];
  let finishWrite = () => {};
  const slow = new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((resolve) => {
        finishWrite = () => {
          finishWrite = () => {};
          written.push(new TextDecoder().decode(chunk));
          resolve();
        };
      }),
  });
  const writer = gate.writable(slow).getWriter();
  const first = writer.write(new TextEncoder().encode("1"));
  await new Promise((r) => setTimeout(r, 5));
  let held = false;
  const holding = gate.hold().then((release) => (held = true, release));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(held, false, "the chunk on its way is still being written");
  finishWrite();
  await first;
  const release = await holding;
  const inner = await gate.hold();
  const second = writer.write(new TextEncoder().encode("2"));
  await new Promise((r) => setTimeout(r, 5));
  release();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(written, ["1"], "still held by the inner hold");
  inner();
  await until(() => written.length === 2, () => finishWrite());
  await second;
  assert.deepEqual(written, ["1", "2"]);
});

async function until(predicate: () => boolean, poke: () => void): Promise<void> {
  while (!predicate()) {
    poke();
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("terminal and queue together: a typed answer is recorded; an answer given elsewhere ends the question", async () => {
  const dir = await Deno.makeTempDir();
  const db = openDatabase(`${dir}/agentbox.db`);
  const other = openContext({ db: openDatabase(`${dir}/agentbox.db`) });
  try {
    const { id: session } = createSession(db, {});
    const term = fakeTerminal();
    const queue = queueApprover(openContext({ db }), session, {
      projectDir: dir,
      pollMs: 20,
      alsoAsk: terminalAsker(term.io, {}),
      localDecider: "cli:tester",
    });
    assert.equal(await askTyping(term, queue.approve, "a.test", ["s"]), true);
    assert.equal(await queue.approve(request("a.test")), true, "session: not asked again");
    const [typed] = listApprovals(other, { session });
    assert.deepEqual([typed.host, typed.decision, typed.decidedBy], [
      "a.test",
      "session",
      "cli:tester",
    ]);

    const asked = queue.approve(request("b.test"));
    let pending;
    while (!(pending = listApprovals(other, { pending: true })[0])) {
      await new Promise((r) => setTimeout(r, 10));
    }
    answerApproval(other, pending.id, "deny", "token:ops");
    assert.equal(await asked, false);
    assert.match(term.output, /answered elsewhere: b\.test:443 denied\n$/);
    assert.equal(listApprovals(other, { session })[0].decidedBy, "token:ops");
    queue.close();
  } finally {
    db.close();
    other.db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
