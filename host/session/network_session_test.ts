import assert from "node:assert/strict";
import { relayedConnect } from "../net/testing/mod.ts";
import { mappedDialer, readUntilText, tableResolver } from "../proxy/testing/mod.ts";
import { openDatabase } from "../store/database.ts";
import { findSession } from "../store/sessions.ts";
import { type NetworkSession, startNetworkSession } from "./network_session.ts";
import { formatRefusals } from "../cli/net_options.ts";
import type { ConfirmLearned, LearnProposal } from "../config/learned_allowlist.ts";

const UPSTREAM_ADDR = "203.0.113.20";

/** A loopback upstream, a project dir, a database file, and seams mapping names onto them. */
async function bench() {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const dir = await Deno.makeTempDir({ prefix: "agentbox-netsession-" });
  const db = openDatabase(`${dir}/agentbox.db`);
  const names = ["one.test", "two.test", "kept.test", "blocked.test"];
  const proxy = {
    resolver: tableResolver(Object.fromEntries(names.map((n) => [n, [UPSTREAM_ADDR]]))).resolver,
    dialer: mappedDialer({ [`${UPSTREAM_ADDR}:80`]: upstream.addr.port }).dialer,
  };
  return {
    dir,
    db,
    proxy,
    userConfig: `${dir}/no-user-config.toml`,
    async close() {
      db.close();
      await upstream.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** GET http://HOST/ through the session's forward proxy, as the guest's relay would send it. */
async function get(session: NetworkSession, host: string): Promise<number> {
  const conn = await relayedConnect(session.egress!.network, 3128);
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET http://${host}/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = await readUntilText(conn, (t) => t.includes("\r\n"));
    return Number(text.split(" ")[1]);
  } finally {
    conn.close();
  }
}

Deno.test("learn mode writes exactly the hosts the run needed to .agentbox.toml", async () => {
  const b = await bench();
  try {
    await Deno.writeTextFile(
      `${b.dir}/.agentbox.toml`,
      '# kept\n[network]\nallow = ["kept.test"]\ndeny = ["blocked.test"]\n',
    );
    const proposals: LearnProposal[] = [];
    const session = await startNetworkSession({
      backend: "user",
      db: b.db,
      net: "learn",
      projectDir: b.dir,
      userConfig: b.userConfig,
      proxy: b.proxy,
      confirmLearned: (proposal) => (proposals.push(proposal), true),
    });
    const statuses = [];
    for (const host of ["two.test", "one.test", "two.test", "kept.test", "blocked.test"]) {
      statuses.push(await get(session, host));
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 403]);
    const report = await session.finish();
    // The user was shown exactly what would be added before anything was written.
    assert.deepEqual(proposals, [{
      file: `${b.dir}/.agentbox.toml`,
      hosts: ["one.test", "two.test"],
    }]);
    assert.deepEqual(report.learned?.added, ["one.test", "two.test"]);
    assert.deepEqual(report.refused.map((r) => [r.host, r.rule.split(" ")[0]]), [
      ["blocked.test", "deny"],
    ]);
    assert.equal(
      await Deno.readTextFile(`${b.dir}/.agentbox.toml`),
      '# kept\n[network]\nallow = ["kept.test", "one.test", "two.test"]\ndeny = ["blocked.test"]\n',
    );
    assert.ok(findSession(b.db, session.id)?.endedAt);

    // The next run in the default mode passes with what was learned, and only that.
    const next = await startNetworkSession({
      backend: "user",
      db: b.db,
      projectDir: b.dir,
      userConfig: b.userConfig,
      proxy: b.proxy,
    });
    assert.equal(next.policy.mode, "allowlist");
    assert.equal(await get(next, "one.test"), 200);
    assert.equal(await get(next, "blocked.test"), 403);
    const nextReport = await next.finish();
    assert.equal(nextReport.learned, undefined);
  } finally {
    await b.close();
  }
});

Deno.test("learn mode never widens .agentbox.toml unconfirmed: no one to ask, or a no", async () => {
  const b = await bench();
  try {
    const original = '[network]\nallow = ["kept.test"]\n';
    await Deno.writeTextFile(`${b.dir}/.agentbox.toml`, original);
    const answers: (ConfirmLearned | undefined)[] = [undefined, () => false];
    for (const confirmLearned of answers) {
      const session = await startNetworkSession({
        backend: "user",
        db: b.db,
        net: "learn",
        projectDir: b.dir,
        userConfig: b.userConfig,
        proxy: b.proxy,
        confirmLearned,
      });
      // The guest reaches hosts of its choosing (allowed: learn mode is open).
      assert.equal(await get(session, "one.test"), 200);
      assert.equal(await get(session, "kept.test"), 200);
      const report = await session.finish();
      assert.deepEqual(report.learned, {
        file: `${b.dir}/.agentbox.toml`,
        added: [],
        declined: ["one.test"],
      });
      assert.equal(await Deno.readTextFile(`${b.dir}/.agentbox.toml`), original);
    }
    // Positive control: with a yes (`--yes`) the same run writes.
    const session = await startNetworkSession({
      backend: "user",
      db: b.db,
      net: "learn",
      projectDir: b.dir,
      userConfig: b.userConfig,
      proxy: b.proxy,
      confirmLearned: () => true,
    });
    assert.equal(await get(session, "one.test"), 200);
    assert.deepEqual((await session.finish()).learned?.added, ["one.test"]);
    assert.match(await Deno.readTextFile(`${b.dir}/.agentbox.toml`), /"one\.test"/);
  } finally {
    await b.close();
  }
});

Deno.test("--net none starts no proxy but still records the session", async () => {
  const b = await bench();
  try {
    const session = await startNetworkSession({
      backend: "user",
      db: b.db,
      net: "none",
      projectDir: b.dir,
      userConfig: b.userConfig,
    });
    assert.equal(session.egress, undefined);
    const report = await session.finish();
    assert.deepEqual([report.requests, report.refused], [0, []]);
    assert.ok(findSession(b.db, session.id));
  } finally {
    await b.close();
  }
});

Deno.test("the report says how to allow each refusal; --allow never lifts a --deny", async () => {
  const b = await bench();
  try {
    const session = await startNetworkSession({
      backend: "user",
      db: b.db,
      net: "allowlist",
      allow: ["blocked.test"],
      deny: ["blocked.test"],
      projectDir: b.dir,
      userConfig: b.userConfig,
      proxy: b.proxy,
    });
    assert.equal(await get(session, "blocked.test"), 403);
    assert.equal(await get(session, "one.test"), 403);
    const report = await session.finish();
    assert.deepEqual(report.refused.map((r) => [r.host, r.hint]), [
      ["blocked.test", "run without --deny blocked.test (the deny list wins over --allow)"],
      ["one.test", "add it to network.allow in .agentbox.toml or run with --allow one.test"],
    ]);
    const text = formatRefusals(report.refused, report.sessionId.slice(0, 8));
    assert.match(
      text,
      /blocked\.test:80 \(1x\) refused by deny "blocked\.test" \(--deny in command line\); to allow it, run without --deny blocked\.test/,
    );
    assert.match(
      text,
      /one\.test:80 \(1x\) refused by default deny; to allow it, add it to network\.allow/,
    );
  } finally {
    await b.close();
  }
});
