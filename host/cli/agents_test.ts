import assert from "node:assert/strict";
import { agentbox } from "../../tests/helpers.ts";

const decoder = new TextDecoder();

async function run(args: string[], env: Record<string, string>) {
  const out = await agentbox(args, { env }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("agents list shows profiles and saved homes; reset removes them", async () => {
  const base = await Deno.makeTempDir();
  try {
    const env = { XDG_STATE_HOME: `${base}/state`, XDG_CONFIG_HOME: `${base}/config` };
    await Deno.mkdir(`${base}/config/agentbox`, { recursive: true });
    await Deno.writeTextFile(
      `${base}/config/agentbox/config.toml`,
      '[agents.aider]\nhosts = ["api.openai.com"]\nhome = [".aider"]\n',
    );
    const homes = `${base}/state/agentbox/agent-homes/claude`;
    await Deno.mkdir(homes, { recursive: true });
    await Deno.writeTextFile(`${homes}/home.tar`, "saved by a guest");
    await Deno.writeTextFile(`${homes}/project-0123456789abcdef.tar`, "another");
    await Deno.writeTextFile(`${homes}/unrelated.txt`, "not a home");

    const list = await run(["agents", "list", "--json"], env);
    assert.equal(list.code, 0, list.stderr);
    const doc = JSON.parse(list.stdout);
    const names = doc.agents.map((a: { name: string }) => a.name);
    assert.deepEqual(names, ["claude", "codex", "gemini", "aider"]);
    const claude = doc.agents[0];
    assert.equal(claude.saved.length, 2);
    assert.ok(
      claude.hosts.some((h: { host: string; allowed: boolean }) =>
        h.host === "statsig.anthropic.com" && !h.allowed
      ),
    );
    assert.equal(doc.agents[3].builtin, false);

    const one = await run(["agents", "reset", "claude", "--project", "/nowhere"], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stderr, /has no saved home/);
    const reset = await run(["agents", "reset", "claude"], env);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stderr.match(/removed /g)?.length, 2);
    await assert.rejects(Deno.stat(`${homes}/home.tar`));
    assert.equal(await Deno.readTextFile(`${homes}/unrelated.txt`), "not a home");

    for (const args of [["agents", "reset", "../etc"], ["agents", "reset"], ["agents"]]) {
      const bad = await run(args, env);
      assert.equal(bad.code, 125, `${args.join(" ")}: ${bad.stderr}`);
      assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
