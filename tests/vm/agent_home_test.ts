/**
 * The persistent agent home in real VMs (the default image: busybox `tar` and `cpio`): a first VM
 * gets the seeded configuration and packs the home, less its excluded paths; a second VM unpacks it, so what the first
 * wrote is there, and the seed merges into it instead of replacing it. The archive is stored
 * 0600 in a 0700 directory and never unpacked by agentbox on the host.
 */
import assert from "node:assert/strict";
import { SEEDERS } from "../../host/config/agent_seed.ts";
import {
  type GuestHome,
  restoreAgentHome,
  saveAgentHome,
  seedAgentHome,
} from "../../host/session/agent_home.ts";
import { bootVm } from "../../host/vm/boot.ts";
import type { RunningVm } from "../../host/vm/running_vm.ts";

const KEY = "agentbox-placeholder-0123456789abcdef0123456789abcdef";

async function sh(vm: RunningVm, script: string): Promise<string> {
  const run = vm.agent.exec({ argv: ["sh", "-c", script], env: { HOME: "/root" } });
  const [out, err, result] = await Promise.all([
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
    run.result,
  ]);
  assert.equal(result.code, 0, err);
  return out;
}

Deno.test({
  name: "vm agent home: seeded, saved, restored in the next VM and merged into",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-agent-home-" });
  const archive = `${dir}/agent-homes/claude/home.tar`;
  try {
    const first = await bootVm({ cpus: 1 });
    try {
      const home: GuestHome = {
        agent: first.agent,
        home: "/root",
        paths: [".claude", ".claude.json"],
        exclude: [".claude/packages"],
        archive,
      };
      assert.equal(await restoreAgentHome(home), false, "nothing saved yet");
      await seedAgentHome(home, SEEDERS.claude, {
        workdir: "/workspace",
        env: { ANTHROPIC_API_KEY: KEY },
      });
      // What the agent itself would write during the run.
      await sh(
        first,
        "mkdir -p ~/.claude/projects ~/.claude/packages/x && echo big > ~/.claude/packages/x/bin && " +
          "mkdir -p ~/.claude/projects/packages && echo kept > ~/.claude/projects/packages/p && " +
          "echo history > ~/.claude/projects/a.jsonl && " +
          'sed -i \'s/"theme"/"numStartups": 1, "theme"/\' ~/.claude.json',
      );
      assert.ok((await saveAgentHome(home))! > 0);
      assert.equal(
        await sh(first, "cat ~/.claude/packages/x/bin; ls -a ~ | grep -c aside || true"),
        "big\n0\n",
        "the excluded path is back in place, nothing left aside",
      );
    } finally {
      await first.stop();
    }
    assert.equal((await Deno.stat(archive)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/agent-homes/claude`)).mode! & 0o777, 0o700);

    const second = await bootVm({ cpus: 1 });
    try {
      const home: GuestHome = {
        agent: second.agent,
        home: "/root",
        paths: [".claude", ".claude.json"],
        archive,
      };
      assert.equal(await restoreAgentHome(home), true);
      assert.equal(await sh(second, "cat ~/.claude/projects/a.jsonl"), "history\n");
      assert.equal(
        await sh(second, "ls -a ~/.claude; cat ~/.claude/projects/packages/p"),
        ".\n..\nprojects\nkept\n",
        "the excluded path was not kept; a deeper one of the same name was",
      );
      await seedAgentHome(home, SEEDERS.claude, {
        workdir: "/workspace",
        env: { ANTHROPIC_API_KEY: "agentbox-placeholder-ffffffffffffffffffffffffffffffff" },
      });
      const config = JSON.parse(await sh(second, "cat ~/.claude.json"));
      assert.equal(config.numStartups, 1, "what the first run wrote is kept");
      assert.equal(config.hasCompletedOnboarding, true);
      assert.equal(config.customApiKeyResponses.approved.length, 2, "this run's key approved too");
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
