import assert from "node:assert/strict";
import { canonicalHost } from "../net/canonical_host.ts";
import { applyConfigText } from "./load_config.ts";
import { decide, type Destination, emptyPolicy, type Policy } from "./policy.ts";
import { PRESETS } from "./presets.ts";

function policyOf(toml: string): Policy {
  const policy = emptyPolicy();
  applyConfigText(policy, toml, "/p/.agentbox.toml");
  return policy;
}

function dest(host: string, extra: Partial<Destination> = {}): Destination {
  return { host: canonicalHost(host), port: 443, kind: "connect", ...extra };
}

const POLICY = policyOf(`
[network]
allow = ["allowed.test", "*.wild.test", "evil.wild.test", "203.0.113.7"]
deny = ["evil.wild.test", "*.blocked.test"]
gray = ["gray.test", "tool.test"]

[tools.claude]
allow = ["tool.test", "sub.blocked.test"]
`);

Deno.test("decide: blocklist wins over every allowlist, tool allowlist included", () => {
  const d = decide(POLICY, dest("evil.wild.test"));
  assert.equal(d.verdict, "deny");
  assert.equal(d.rule, 'deny "evil.wild.test" (network.deny in /p/.agentbox.toml)');
  // --allow cannot lift it: the hint says to take it off the list.
  assert.equal(
    d.hint,
    'remove "evil.wild.test" from network.deny in /p/.agentbox.toml (the deny list wins over --allow)',
  );
  assert.equal(decide(POLICY, dest("sub.blocked.test", { tool: "claude" })).verdict, "deny");
});

Deno.test("decide: tool allowlist applies only to that tool and beats the graylist", () => {
  const claude = decide(POLICY, dest("tool.test", { tool: "claude" }));
  assert.equal(claude.verdict, "allow");
  assert.match(claude.rule, /tools\.claude\.allow/);
  assert.equal(decide(POLICY, dest("tool.test", { tool: "codex" })).verdict, "gray");
  assert.equal(decide(POLICY, dest("tool.test")).verdict, "gray");
});

Deno.test("decide: allowlist, graylist and default deny", () => {
  assert.equal(decide(POLICY, dest("allowed.test")).verdict, "allow");
  assert.equal(
    decide(POLICY, dest("gray.test")).rule,
    'gray "gray.test" (network.gray in /p/.agentbox.toml)',
  );
  assert.deepEqual(decide(POLICY, dest("other.test")), {
    verdict: "deny",
    rule: "default deny",
    hint: "add it to network.allow in .agentbox.toml or run with --allow other.test",
  });
});

Deno.test("decide: wildcard matches every depth below the suffix, not the apex or look-alikes", () => {
  assert.equal(decide(POLICY, dest("a.wild.test")).verdict, "allow");
  assert.equal(decide(POLICY, dest("a.b.c.wild.test")).verdict, "allow");
  assert.equal(decide(POLICY, dest("A.WILD.TEST.")).verdict, "allow");
  assert.equal(decide(POLICY, dest("wild.test")).verdict, "deny");
  assert.equal(decide(POLICY, dest("notwild.test")).verdict, "deny");
  assert.equal(decide(POLICY, dest("wild.test.evil")).verdict, "deny");
});

Deno.test("decide: IP literals only by exact entry, never by wildcard", () => {
  assert.equal(decide(POLICY, dest("203.0.113.7")).verdict, "allow");
  assert.equal(decide(POLICY, dest("203.0.113.8")).verdict, "deny");
});

Deno.test("decide: ports are checked per kind (CONNECT 443, HTTP 80 by default)", () => {
  const ssh = decide(POLICY, dest("allowed.test", { port: 22 }));
  assert.deepEqual(ssh, {
    verdict: "deny",
    rule: "port 22 not in network.connect_ports",
    hint: "add 22 to network.connect_ports",
  });
  assert.equal(decide(POLICY, dest("allowed.test", { kind: "http", port: 80 })).verdict, "allow");
  assert.equal(decide(POLICY, dest("allowed.test", { kind: "http", port: 443 })).verdict, "deny");
  const custom = policyOf("[network]\nallow = ['x.test']\nconnect_ports = [443, 8443]\n");
  assert.equal(decide(custom, dest("x.test", { port: 8443 })).verdict, "allow");
});

Deno.test("decide: open and learn modes allow public names but keep the blocklist", () => {
  for (const mode of ["open", "learn"]) {
    const p = policyOf(`[network]\nmode = "${mode}"\ndeny = ["bad.test"]\ngray = ["g.test"]\n`);
    assert.deepEqual(decide(p, dest("any.test")), { verdict: "allow", rule: `mode ${mode}` });
    assert.equal(decide(p, dest("g.test")).verdict, "allow");
    assert.equal(decide(p, dest("bad.test")).verdict, "deny");
    assert.equal(decide(p, dest("203.0.113.9")).verdict, "deny");
  }
});

Deno.test("decide: every preset allows each of its hosts and nothing else", () => {
  for (const [name, hosts] of Object.entries(PRESETS)) {
    const p = policyOf(`[network]\npresets = ["${name}"]\n`);
    for (const h of hosts) {
      const host = h.startsWith("*.") ? `x.${h.slice(2)}` : h;
      const d = decide(p, dest(host));
      assert.equal(d.verdict, "allow", `${name}: ${host}`);
      assert.match(d.rule, new RegExp(`preset ${name} via network.presets`));
    }
    assert.equal(decide(p, dest("unrelated.test")).verdict, "deny", name);
  }
  const tool = policyOf(`[tools.claude]\npresets = ["anthropic"]\n`);
  assert.equal(decide(tool, dest("api.anthropic.com", { tool: "claude" })).verdict, "allow");
  assert.equal(decide(tool, dest("api.anthropic.com")).verdict, "deny");
});
