import assert from "node:assert/strict";
import { wallRuleset, wallSessionId, wallTableName } from "./nft_wall.ts";

const ID = "0123abcd-ef01-4000-8000-00000000beef";
const SPEC = {
  sessionId: ID,
  ifname: "ab0123abcdef01",
  gateway: "10.213.0.1",
  forwardPort: 40000,
  transparentPort: 40001,
};

Deno.test("wallTableName and wallSessionId: a session id round-trips; others' tables are not ours", () => {
  assert.equal(wallSessionId(wallTableName(ID)), ID);
  for (const name of ["filter", "agentbox_", "agentbox_x", "agentbox_0123abcd_ef01", "nat"]) {
    assert.equal(wallSessionId(name), undefined, name);
  }
  assert.throws(() => wallTableName("x; flush ruleset"), RangeError);
});

Deno.test("wallRuleset: DNAT of the proxy ports, gateway-only input, everything else counted and dropped", () => {
  const commands = wallRuleset(SPEC).nftables.map((c) => JSON.stringify(c));
  const rules = commands.filter((c) => c.includes('"rule"'));
  // Base chains at the hooks the module comment names.
  for (const hook of ["prerouting", "input", "forward"]) {
    assert.ok(commands.some((c) => c.includes(`"hook":"${hook}"`)), hook);
  }
  assert.ok(rules[0].includes('"10.0.2.100"') && rules[0].includes('"port":40000'));
  assert.ok(rules[1].includes('{"set":[80,443]}') && rules[1].includes('"port":40001'));
  assert.ok(rules[3].includes('"10.213.0.1"') && rules[3].includes('{"set":[40000,40001]}'));
  // Every rule is about this tap only, and the last three drop with a counter.
  assert.ok(rules.every((r) => r.includes('"ab0123abcdef01"')));
  for (const rule of rules.slice(-3)) {
    assert.ok(rule.endsWith('{"counter":null},{"drop":null}]}}}'));
  }
});

Deno.test("wallRuleset: refuses a device name that is not a tap name", () => {
  assert.throws(() => wallRuleset({ ...SPEC, ifname: 'eth0" accept' }), RangeError);
});
