import assert from "node:assert/strict";
import { learnConfirmer, type LearnTerminal } from "./net_options.ts";

const proposal = { file: "/p/.agentbox.toml", hosts: ["a.test", "xn--pple-43d.test"] };

function terminal(present: boolean, answer: boolean) {
  const shown: string[] = [];
  const asked: string[] = [];
  const term: LearnTerminal = {
    present,
    show: (text) => void shown.push(text),
    ask: (question) => (asked.push(question), answer),
  };
  return { term, shown, asked };
}

Deno.test("learnConfirmer: on a terminal the hosts are shown and the user decides", async () => {
  for (const answer of [true, false]) {
    const t = terminal(true, answer);
    const confirm = learnConfirmer({ yes: false, json: false }, t.term)!;
    assert.equal(await confirm(proposal), answer);
    assert.match(t.shown.join("\n"), /2 host\(s\) that \/p\/\.agentbox\.toml does not allow/);
    assert.match(t.shown.join("\n"), /^ {2}a\.test$/m);
    assert.match(t.shown.join("\n"), /^ {2}xn--pple-43d\.test$/m);
    assert.equal(t.asked.length, 1);
  }
});

Deno.test("learnConfirmer: --yes writes without asking; nobody to ask (or --json) writes nothing", async () => {
  const t = terminal(false, true);
  assert.equal(await learnConfirmer({ yes: true, json: true }, t.term)?.(proposal), true);
  assert.equal(learnConfirmer({ yes: false, json: false }, t.term), undefined);
  const onTerminal = terminal(true, true);
  assert.equal(learnConfirmer({ yes: false, json: true }, onTerminal.term), undefined);
  assert.deepEqual([...t.asked, ...onTerminal.asked, ...t.shown], []);
});
