/**
 * Slow: the real Claude Code and Codex CLIs (from npm, in the dev image) against a fake provider
 * (Anthropic Messages and OpenAI Responses, both streamed) in a network namespace, through
 * agentbox's proxy with TLS inspection and credential injection. agentbox runs in a namespace of
 * its own whose /etc/hosts sends the agents' hosts — API, auth, telemetry and update ones — to the
 * fake, so anything the proxy let through would show in the fake's log (the evidence on the
 * receiving side). For each agent: a non-interactive prompt succeeds; an interactive launch in
 * tmux reaches the prompt without onboarding questions and answers a prompt typed there; the
 * second run still has the first run's settings (the persistent agent home); the host's real key
 * reaches only the fake, never the guest's files or agentbox's state; `agentbox usage` equals the fake's token counts; no
 * telemetry or update host is contacted.
 *
 * `.ci/run` runs it (root, the dev image built once); AGENTBOX_SKIP_SLOW=1 skips it.
 */
import assert from "node:assert/strict";
import { namespacePairResolving, REPO, waitFor } from "../helpers.ts";
import { selfSignedCert } from "../../host/proxy/testing/mod.ts";
import { FAKE_ANSWER, type FakeRequestRecord } from "../../host/ai_usage/testing/fake_provider.ts";
import { AGENT_PRESETS } from "../../host/config/agent_presets.ts";
import { ensureDevImage } from "./testing/dev_image.ts";

const decoder = new TextDecoder();
const COMMAND_TIMEOUT_MS = 15 * 60_000;

const REAL_ANTHROPIC_KEY = `sk-ant-api03-REAL-${crypto.randomUUID()}`;
const REAL_OPENAI_KEY = `sk-proj-REAL-${crypto.randomUUID()}`;

/** Every host the two agents know, sent to the fake. */
const AGENT_HOSTS = [
  ...AGENT_PRESETS.claude.hosts.map((h) => h.host),
  ...AGENT_PRESETS.codex.hosts.map((h) => h.host),
];
const QUIET_HOSTS = [...AGENT_PRESETS.claude.hosts, ...AGENT_PRESETS.codex.hosts]
  .filter((h) => h.purpose === "telemetry" || h.purpose === "updates")
  .map((h) => h.host);

let skipReason = Deno.env.get("AGENTBOX_SKIP_SLOW") === "1"
  ? "AGENTBOX_SKIP_SLOW=1"
  : Deno.uid() !== 0
  ? "needs root (network namespaces, the dev image build)"
  : await new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).output()
      .then((o) => o.success, () => false)
  ? undefined
  : "tmux is not installed";
let namespaces = { host: "", peer: "" };
if (!skipReason) {
  skipReason = await namespacePairResolving(AGENT_HOSTS).then((pair) => {
    namespaces = pair;
    return undefined;
  }, (err) => String(err));
}
if (skipReason) console.error(`agents_test: skipped: ${skipReason}`);

/** The test's own state: agentbox's state and config dirs, the fake's files, the project. */
interface World {
  base: string;
  env: Record<string, string>;
  project: string;
  fakeLog: string;
  fake: Deno.ChildProcess;
  tmuxSocket: string;
}

async function startWorld(): Promise<World> {
  const base = await Deno.makeTempDir({ prefix: "agentbox-agents-" });
  const project = `${base}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/README.md`, "# a small project\n");
  const cert = await selfSignedCert(AGENT_HOSTS);
  await Deno.writeTextFile(`${base}/fake.crt`, cert.cert);
  await Deno.writeTextFile(`${base}/fake.key`, cert.key, { mode: 0o600 });
  const fakeLog = `${base}/fake.jsonl`;
  await Deno.writeTextFile(fakeLog, "");
  const fake = new Deno.Command("ip", {
    args: [
      ...["netns", "exec", namespaces.peer, Deno.execPath(), "run", "--allow-all", "--quiet"],
      `--config=${REPO}/deno.json`,
      `${REPO}/host/ai_usage/testing/fake_provider.ts`,
      ...["--port", "443", "--cert", `${base}/fake.crt`, "--key", `${base}/fake.key`],
      ...["--log", fakeLog],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = fake.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /listening/);
  reader.releaseLock();
  await Deno.mkdir(`${base}/config`);
  return {
    base,
    project,
    fakeLog,
    fake,
    tmuxSocket: `${base}/tmux.sock`,
    env: {
      NO_COLOR: "1",
      XDG_STATE_HOME: `${base}/state`,
      XDG_CONFIG_HOME: `${base}/config`,
      // The proxy verifies the fake like any upstream: its certificate is trusted by this run.
      DENO_CERT: `${base}/fake.crt`,
      ANTHROPIC_API_KEY: REAL_ANTHROPIC_KEY,
      OPENAI_API_KEY: REAL_OPENAI_KEY,
    },
  };
}

/** argv of agentbox from source, in the test's namespace. */
function agentboxArgv(args: string[]): string[] {
  return [
    "ip",
    "netns",
    "exec",
    namespaces.host,
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    `--config=${REPO}/deno.json`,
    `${REPO}/host/main.ts`,
    ...args,
  ];
}

async function cli(world: World, args: string[]) {
  const [cmd, ...rest] = agentboxArgv(args);
  const child = new Deno.Command(cmd, {
    args: rest,
    env: world.env,
    cwd: world.project,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGTERM"), COMMAND_TIMEOUT_MS);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

async function fakeRecords(world: World): Promise<FakeRequestRecord[]> {
  const text = await Deno.readTextFile(world.fakeLog);
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/** A shell word. */
const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Start `agentbox ARGS` in a tmux pane (a real terminal) and return a reader of the screen. */
async function inTmux(world: World, name: string, args: string[]) {
  const env = Object.entries(world.env).map(([k, v]) => `${k}=${quote(v)}`).join(" ");
  const command = `cd ${quote(world.project)} && env ${env} ${
    agentboxArgv(args).map(quote).join(" ")
  }; echo AGENTBOX-EXITED $?; sleep 3600`;
  const tmux = (...args: string[]) =>
    new Deno.Command("tmux", { args: ["-S", world.tmuxSocket, ...args], stdout: "piped" }).output();
  const started = await tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "45", command);
  assert.ok(started.success, "tmux started");
  const screen = async () =>
    decoder.decode((await tmux("capture-pane", "-p", "-J", "-t", name, "-S", "-200")).stdout);
  const keys = async (...keys: string[]) => {
    await tmux("send-keys", "-t", name, ...keys);
  };
  const waitScreen = async (pattern: RegExp, ms: number) => {
    const ok = await waitFor(async () => pattern.test(await screen()), ms);
    assert.ok(ok, `the screen shows ${pattern}:\n${await screen()}`);
  };
  return { screen, keys, waitScreen };
}

/** Unpack a saved agent home (the test's own look at it; agentbox never unpacks it). */
async function unpackHome(world: World, agent: string): Promise<string> {
  const archive = `${world.base}/state/agentbox/agent-homes/${agent}/home.tar`;
  const info = await Deno.stat(archive);
  assert.equal(info.mode! & 0o777, 0o600, "the saved home is the user's only");
  const dir = await Deno.makeTempDir({ dir: world.base, prefix: `home-${agent}-` });
  const out = await new Deno.Command("tar", { args: ["-xf", archive, "-C", dir] }).output();
  assert.ok(out.success, decoder.decode(out.stderr));
  return dir;
}

/**
 * Files under `dir` whose bytes contain `needle`: regular files under 256 MiB (a session's sparse
 * overlay disk has a huge apparent size; what it holds is the guest's and came back as changes).
 */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      'find "$1" -type f -size -256M -print0 | xargs -0 -r grep -l -a -F -- "$2"',
      "sh",
      dir,
      needle,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return decoder.decode(out.stdout).split("\n").filter(Boolean);
}

/** Usage totals agentbox recorded vs the fake's own counts, for one provider's records. */
async function checkUsage(world: World, records: FakeRequestRecord[]) {
  const usage = await cli(world, ["usage", "--json", "--by", "host"]);
  assert.equal(usage.code, 0, usage.stderr);
  const rows = JSON.parse(usage.stdout).ai.rows as {
    key: string;
    calls: number;
    inputTokens: number;
    outputTokens: number;
  }[];
  const sum = (key: "inputTokens" | "outputTokens") => rows.reduce((n, r) => n + r[key], 0);
  const served = records.filter((r) => r.api !== "other");
  const expected = (key: "inputTokens" | "outputTokens") => served.reduce((n, r) => n + r[key], 0);
  assert.ok(served.length > 0);
  assert.equal(sum("inputTokens"), expected("inputTokens"), JSON.stringify(rows));
  assert.equal(sum("outputTokens"), expected("outputTokens"), JSON.stringify(rows));
}

/** No telemetry or update host was let through: refusals only, and the fake saw none. */
async function checkQuiet(world: World, records: FakeRequestRecord[]) {
  const logs = await cli(world, ["requests", "--json"]);
  assert.equal(logs.code, 0, logs.stderr);
  const requests = logs.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)) as {
    host: string;
    decision: string;
  }[];
  assert.ok(requests.length > 0, "the request log has the session's requests");
  const allowedQuiet = requests.filter((r) =>
    QUIET_HOSTS.includes(r.host) && r.decision === "allow"
  );
  assert.deepEqual(allowedQuiet, [], "no telemetry or update host allowed");
  const reached = records.filter((r) => QUIET_HOSTS.includes(r.host.replace(/:\d+$/, "")));
  assert.deepEqual(reached, [], "the fake saw no telemetry or update request");
}

let shared: Promise<World> | undefined;

/** One world for the tests of this file (they build on each other's runs), stopped at exit. */
function world(): Promise<World> {
  if (!shared) {
    shared = (async () => {
      await ensureDevImage();
      const made = await startWorld();
      globalThis.addEventListener("unload", () => {
        new Deno.Command("tmux", { args: ["-S", made.tmuxSocket, "kill-server"], stderr: "null" })
          .outputSync();
        try {
          made.fake.kill("SIGTERM");
        } catch {
          // Gone already.
        }
        Deno.removeSync(made.base, { recursive: true });
      });
      return made;
    })();
  }
  return shared;
}

const slow = { ignore: skipReason !== undefined, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "slow: claude: -p, then interactive in tmux with no onboarding, the home kept",
  ...slow,
  fn: async (t) => {
    const world_ = await world();
    await t.step("claude -p answers through the proxy with the injected key", async () => {
      const run = await cli(world_, [
        ...["exec", "--image", "dev", "--tls-inspect", "--share", world_.project],
        ...["--", "claude", "-p", "Say hello"],
      ]);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, new RegExp(FAKE_ANSWER));
      const records = (await fakeRecords(world_)).filter((r) => r.api === "anthropic");
      assert.ok(records.length >= 1, "the fake answered a Messages request");
      for (const r of records) {
        assert.equal(r.host, "api.anthropic.com");
        assert.equal(r.key, REAL_ANTHROPIC_KEY, "the proxy put the host's key in");
      }
      assert.ok(records.some((r) => r.stream), "a streamed (SSE) answer was read");
    });

    let firstHome: { userID: string; firstStartTime: string } | undefined;
    await t.step(
      "the first run's home was saved, pre-seeded, with a placeholder only",
      async () => {
        const dir = await unpackHome(world_, "claude");
        const config = JSON.parse(await Deno.readTextFile(`${dir}/.claude.json`));
        assert.equal(config.hasCompletedOnboarding, true);
        assert.equal(config.projects["/workspace"].hasTrustDialogAccepted, true);
        assert.equal(config.customApiKeyResponses.approved.length, 1);
        assert.notEqual(config.customApiKeyResponses.approved[0], REAL_ANTHROPIC_KEY.slice(-20));
        assert.equal(typeof config.userID, "string");
        firstHome = { userID: config.userID, firstStartTime: config.firstStartTime };
      },
    );

    await t.step(
      "interactive claude reaches its prompt without onboarding, keeps its home",
      async () => {
        const pane = await inTmux(world_, "claude", [
          ...["run", "--image", "dev", "--tls-inspect", "--share", world_.project],
          ...["--discard", "--", "claude"],
        ]);
        await pane.waitScreen(/for shortcuts|❯/, 10 * 60_000);
        const screen = await pane.screen();
        for (
          const question of [
            /text style/i,
            /trust (the files|this folder)/i,
            /Detected a custom API key/i,
            /Select login method/i,
            /Unable to connect/i,
          ]
        ) {
          assert.doesNotMatch(screen, question, `no onboarding question:\n${screen}`);
        }
        await pane.keys("-l", "Say hello again");
        // Typed text followed at once by Enter reads as a paste in some TUIs: Enter apart.
        await new Promise((r) => setTimeout(r, 2000));
        await pane.keys("Enter");
        await pane.waitScreen(new RegExp(FAKE_ANSWER), 5 * 60_000);
        await pane.keys("-l", "/exit");
        await new Promise((r) => setTimeout(r, 2000));
        await pane.keys("Enter");
        await pane.waitScreen(/AGENTBOX-EXITED 0/, 5 * 60_000);

        const dir = await unpackHome(world_, "claude");
        const config = JSON.parse(await Deno.readTextFile(`${dir}/.claude.json`));
        assert.equal(config.userID, firstHome?.userID, "the second run had the first run's home");
        assert.equal(config.firstStartTime, firstHome?.firstStartTime);
        const transcripts = [];
        for await (const e of Deno.readDir(`${dir}/.claude/projects/-workspace`)) {
          if (e.name.endsWith(".jsonl")) transcripts.push(e.name);
        }
        assert.ok(transcripts.length >= 2, `both runs' history is kept: ${transcripts}`);
      },
    );
  },
});

Deno.test({
  name: "slow: codex: exec, then interactive in tmux with no sign-in, the home kept",
  ...slow,
  fn: async (t) => {
    const world_ = await world();
    await t.step("codex exec answers through the proxy with the injected key", async () => {
      const run = await cli(world_, [
        ...["exec", "--image", "dev", "--tls-inspect", "--share", world_.project],
        ...["--", "codex", "exec", "--skip-git-repo-check", "Say hello"],
      ]);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, new RegExp(FAKE_ANSWER));
      const records = (await fakeRecords(world_)).filter((r) => r.api === "openai");
      assert.ok(records.length >= 1, "the fake answered a Responses request");
      for (const r of records) {
        assert.equal(r.host, "api.openai.com");
        assert.equal(r.key, REAL_OPENAI_KEY, "the proxy put the host's key in");
        assert.ok(r.stream);
      }
    });

    await t.step(
      "interactive codex reaches its prompt without sign-in or trust questions, and answers",
      async () => {
        const pane = await inTmux(world_, "codex", [
          ...["run", "--image", "dev", "--tls-inspect", "--share", world_.project],
          ...["--discard", "--", "codex"],
        ]);
        await pane.waitScreen(/Ask Codex to do anything/, 10 * 60_000);
        const screen = await pane.screen();
        for (
          const question of [/Sign in with ChatGPT/i, /trust the contents/i, /Welcome to Codex/i]
        ) {
          assert.doesNotMatch(screen, question, `no onboarding question:\n${screen}`);
        }
        // Before the seed turned Codex's app-server daemon off, the TUI sat at "Waiting for
        // startup" here for 8 minutes (copying its ~400 MB package into ~/.codex/packages) and
        // then failed with "No space left on device" (docs/agents.md).
        await pane.keys("-l", "Say hello again");
        await new Promise((r) => setTimeout(r, 2000));
        await pane.keys("Enter");
        await pane.waitScreen(new RegExp(`• ${FAKE_ANSWER}`), 5 * 60_000);
        // Ctrl-C twice quits; keys sent while the TUI is still starting may be lost: repeat.
        const exited = await waitFor(async () => {
          if (/AGENTBOX-EXITED/.test(await pane.screen())) return true;
          await pane.keys("C-c");
          await new Promise((r) => setTimeout(r, 1000));
          await pane.keys("C-c");
          await new Promise((r) => setTimeout(r, 10_000));
          return /AGENTBOX-EXITED/.test(await pane.screen());
        }, 5 * 60_000);
        assert.ok(exited, `codex quit on Ctrl-C:\n${await pane.screen()}`);
        const dir = await unpackHome(world_, "codex");
        const config = await Deno.readTextFile(`${dir}/.codex/config.toml`);
        assert.match(config, /trust_level = "trusted"/);
        assert.match(config, /model_provider = "agentbox"/);
        assert.match(config, /daemon_auto_start = false/);
        await assert.rejects(Deno.stat(`${dir}/.codex/packages`), "no copy of Codex kept");
        // The first run's session is still there after the second: the home was kept.
        const sessions = await filesContaining(`${dir}/.codex/sessions`, "Say hello");
        assert.ok(sessions.length >= 1, `the first codex run's session is kept: ${sessions}`);
      },
    );
  },
});

Deno.test({
  name: "slow: agents: keys only at the fake, usage equals its counts, no telemetry, reset",
  ...slow,
  fn: async (t) => {
    const world_ = await world();
    const records = await fakeRecords(world_);
    const served = records.filter((r) => r.api !== "other");
    assert.ok(served.length > 0, "an agent test ran before this one");

    await t.step(
      "the real keys reached only the fake: not the guest's home, not agentbox's state",
      async () => {
        for (const r of served) {
          assert.ok(r.key === REAL_ANTHROPIC_KEY || r.key === REAL_OPENAI_KEY, JSON.stringify(r));
        }
        for (const key of [REAL_ANTHROPIC_KEY, REAL_OPENAI_KEY]) {
          assert.deepEqual(await filesContaining(`${world_.base}/state`, key), []);
          for (const agent of ["claude", "codex"]) {
            const saved = `${world_.base}/state/agentbox/agent-homes/${agent}/home.tar`;
            if (!await Deno.stat(saved).then(() => true, () => false)) continue;
            const dir = await unpackHome(world_, agent);
            assert.deepEqual(await filesContaining(dir, key), [], `${agent}'s home`);
          }
        }
      },
    );

    await t.step("agentbox usage equals the fake's own token counts", async () => {
      await checkUsage(world_, records);
    });

    await t.step("no telemetry or update host was contacted", async () => {
      await checkQuiet(world_, records);
    });

    await t.step("agents reset clears a saved home", async () => {
      const agent = (await Deno.stat(`${world_.base}/state/agentbox/agent-homes/claude/home.tar`)
          .then(() => true, () => false))
        ? "claude"
        : "codex";
      const reset = await cli(world_, ["agents", "reset", agent]);
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stderr, new RegExp(`removed .*${agent}/home\\.tar`));
      await assert.rejects(
        Deno.stat(`${world_.base}/state/agentbox/agent-homes/${agent}/home.tar`),
      );
      const unknown = await cli(world_, ["agents", "reset", "nosuchagent"]);
      assert.equal(unknown.code, 125);
      assert.match(unknown.stderr, /Unknown agent "nosuchagent"/);
    });
  },
});
