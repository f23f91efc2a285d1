/**
 * The CLI's habits as a user meets them, through the real CLI in a subprocess: usage errors (exit
 * 125, one line, paired quotes, no stack trace), `help CMD`, `version`, `images list --json`, image
 * builds stopped by signals, the KVM warning once per boot (real VMs), and colour on a real terminal
 * (tmux).
 */
import assert from "node:assert/strict";
import { probeAccel } from "../../host/vm/qemu/accel.ts";
import { agentbox, REPO, waitFor } from "../helpers.ts";

const decoder = new TextDecoder();
const ESC = "\x1b";

async function cli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
) {
  const out = await agentbox(args, options).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** One `agentbox: error:` line with paired quotes and backticks, and no stack trace. */
function assertOneLine(stderr: string, what: string) {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${what}: ${stderr}`);
  assert.match(lines[0], /^agentbox: error: /, what);
  for (const mark of ['"', "`"]) {
    assert.equal(lines[0].split(mark).length % 2, 1, `${what}: unpaired ${mark} in ${lines[0]}`);
  }
}

Deno.test("cli habits: every usage error exits 125 with one clear line", async () => {
  const data = await Deno.makeTempDir({ prefix: "agentbox-habits-data-" });
  const env = { XDG_DATA_HOME: data };
  const cases: [string[], RegExp][] = [
    [["exec", "ls", "-la"], /put -- before the command: `agentbox exec -- ls -la`/],
    [["exec", "-d", "--", "true"], /Unknown option -d/],
    [["exec", "--imag", "x", "--", "true"], /did you mean --image\?/],
    [["exce"], /did you mean `agentbox exec`\?/],
    [["exec", "--timeout", "-1", "--", "true"], /--timeout must be a whole number.*"-1"/],
    [["exec", "--cpus"], /--cpus needs a value/],
    [
      ["exec", "--share", "/nonexistent", "--", "true"],
      /--share "\/nonexistent" is not a directory/,
    ],
    [["run", "--detach", "--share", "/nonexistent"], /is not a directory/],
    [["exec", "--image", "BAD", "--", "true"], /Invalid --image "BAD"/],
    [["exec", "--user", "1x", "--", "true"], /--user wants a user name/],
    [["exec", "-v", "/src:/app", "--", "true"], /not a docker volume.*--share DIR/],
    [["exec", "--env-file", "/nonexistent", "--", "true"], /--env-file "\/nonexistent" cannot/],
    [["exec", "-t", "--", "true"], /-t\/--tty needs stdin to be a terminal/],
    [["images", "build", "BAD"], /Invalid image name "BAD"/],
    [["images", "build", "--profile", "nope"], /Unknown image profile "nope"/],
    [["images", "build", "dev", "--agents", "nope"], /Unknown agent "nope"/],
    [["images", "build", "--agents", "claude"], /--agents needs a profile with Node.js/],
    [["images", "rm", "nosuch"], /No image "nosuch"/],
    [["images", "frobnicate"], /Unknown command "images frobnicate"/],
    [["help", "nosuch"], /Unknown command "nosuch"/],
    [["completion", "tcsh"], /bash, zsh or fish/],
    [["--color=sometimes", "ps"], /--color must be auto, always or never/],
    [["ps", "-q", "-v"], /--verbose and --quiet cannot be used together/],
    [["session-daemon"], /session-daemon is internal/],
    [["session-daemon", "--help"], /session-daemon is internal/],
    [["session-daemon", "../../etc"], /session-daemon is internal/],
  ];
  try {
    for (const [args, message] of cases) {
      const what = args.join(" ");
      const r = await cli(args, { env });
      assert.equal(r.code, 125, `${what}: ${r.stderr}`);
      assertOneLine(r.stderr, what);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /ambiguous|To specify a positional/, what);
    }
    // Refused before any work: the build made nothing, not even a staging directory.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(data)), []);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("cli habits: help CMD, version, images list --json", async () => {
  for (const words of [["exec"], ["images", "build"], ["snapshot", "save"]]) {
    const help = await cli(["help", ...words]);
    const direct = await cli([...words, "--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.equal(help.stdout, direct.stdout, words.join(" "));
    assert.match(help.stdout, /Usage: agentbox/);
  }
  const top = await cli(["help"]);
  assert.match(top.stdout, /^agentbox \d+\.\d+\.\d+: /);
  assert.match(top.stdout, /completion +print a shell completion script/);

  const fast = await cli(["--version"]);
  assert.match(fast.stdout, /^agentbox \d+\.\d+\.\d+\n$/);
  const version = await cli(["version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^agentbox +\d+\.\d+\.\d+\ndeno +\d+\.\d+\.\d+ \(V8 /);
  assert.match(version.stdout, /\nqemu +QEMU emulator version \d/);
  assert.match(version.stdout, /\nimages +/);
  const json = JSON.parse((await cli(["version", "--json"])).stdout);
  assert.equal(json.version, 1);
  assert.equal(json.deno.deno, Deno.version.deno);

  const data = await Deno.makeTempDir({ prefix: "agentbox-habits-data-" });
  try {
    await Deno.mkdir(`${data}/agentbox/images/broken`, { recursive: true });
    const list = await cli(["images", "list", "--json"], { env: { XDG_DATA_HOME: data } });
    assert.equal(list.code, 0, list.stderr);
    const report = JSON.parse(list.stdout);
    assert.equal(report.version, 1);
    assert.equal(report.dir, `${data}/agentbox/images`);
    assert.equal(report.images.length, 1);
    assert.equal(report.images[0].name, "broken");
    assert.equal(report.images[0].status, "broken");
    assert.equal(typeof report.images[0].error, "string");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

/** The staging directories and their locks in `images`. */
async function leftovers(images: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(images)))
      .map((e) => e.name).filter((n) => n.includes(".build-")).sort();
  } catch {
    return [];
  }
}

/** Start `images build` and wait until its staging directory (one not in `before`) exists. */
async function buildUntilStaged(
  env: Record<string, string>,
  images: string,
  before: string[] = [],
) {
  const child = agentbox(["images", "build"], { env });
  const staged = await waitFor(
    async () => (await leftovers(images)).some((n) => !n.endsWith(".lock") && !before.includes(n)),
    60_000,
  );
  assert.ok(staged, "the build made no staging directory");
  await new Promise((resolve) => setTimeout(resolve, 500));
  return child;
}

Deno.test("cli habits: a signal stops images build and removes its staging directory; the next build removes a killed one's", async () => {
  const data = await Deno.makeTempDir({ prefix: "agentbox-habits-data-" });
  const images = `${data}/agentbox/images`;
  const env = { XDG_DATA_HOME: data, AGENTBOX_NO_TEMPLATE: "1" };
  try {
    for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const child = await buildUntilStaged(env, images);
      child.kill(signal);
      const out = await child.output();
      assert.equal(out.code, status, decoder.decode(out.stderr));
      assert.match(decoder.decode(out.stderr), new RegExp(`${signal}: build stopped, removed `));
      assert.deepEqual(await leftovers(images), [], signal);
    }
    // SIGKILL leaves the directory behind; the next build removes it before making its own.
    const killed = await buildUntilStaged(env, images);
    killed.kill("SIGKILL");
    await killed.output();
    const left = await leftovers(images);
    assert.equal(left.length, 2, left.join(" ")); // the directory and its lock
    const next = await buildUntilStaged(env, images, left);
    const now = await leftovers(images);
    assert.ok(left.every((name) => !now.includes(name)), `still there: ${now.join(" ")}`);
    next.kill("SIGTERM");
    await next.output();
    assert.deepEqual(await leftovers(images), []);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test({
  name: "cli habits: the KVM warning is said once per host boot, never with -q or vm.kvm_warning",
  // Real VMs; where KVM works there is nothing to warn about.
  ignore: (await probeAccel(Deno.env.get("AGENTBOX_QEMU") || "qemu-system-x86_64")).kind === "kvm",
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "agentbox-habits-kvm-" });
    const warned = /warning: KVM is not available/;
    try {
      const fresh = async (name: string) => {
        const runtime = `${base}/${name}`;
        await Deno.mkdir(runtime, { mode: 0o700 });
        return { XDG_RUNTIME_DIR: runtime };
      };
      // A fresh runtime directory is a fresh cache: as after a reboot.
      const env = await fresh("boot1");
      const first = await cli(["exec", "--", "true"], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, warned);
      const second = await cli(["exec", "--", "true"], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, warned);

      const quiet = await cli(["-q", "exec", "--", "true"], { env: await fresh("boot2") });
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, "");

      const config = `${base}/config`;
      await Deno.mkdir(`${config}/agentbox`, { recursive: true });
      await Deno.writeTextFile(`${config}/agentbox/config.toml`, "[vm]\nkvm_warning = false\n");
      const off = await cli(["exec", "--", "true"], {
        env: { ...await fresh("boot3"), XDG_CONFIG_HOME: config },
      });
      assert.equal(off.code, 0, off.stderr);
      assert.doesNotMatch(off.stderr, warned);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

const hasTmux = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A tmux server of our own with one `sh` window; `run(line)` types a line and waits for `marker`. */
async function tmuxSession() {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-habits-tmux-" });
  const socket = `${dir}/tmux.sock`;
  const tmux = (...args: string[]) => {
    const out = new Deno.Command("tmux", { args: ["-S", socket, ...args], stderr: "piped" })
      .outputSync();
    assert.ok(out.success, decoder.decode(out.stderr));
    return decoder.decode(out.stdout);
  };
  tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "200", "-y", "30", "sh");
  const screen = () => tmux("capture-pane", "-p", "-e", "-t", "t");
  return {
    screen,
    keys: (...keys: string[]) => tmux("send-keys", "-t", "t", ...keys),
    /** Clear the screen, type `line` and Enter, wait until `done` shows. */
    async run(line: string, done: RegExp, timeoutMs = 60_000) {
      tmux("send-keys", "-t", "t", "clear", "Enter");
      tmux("send-keys", "-t", "t", "-l", line);
      tmux("send-keys", "-t", "t", "Enter");
      assert.ok(await waitFor(() => done.test(screen()), timeoutMs), screen());
      return screen();
    },
    async [Symbol.asyncDispose]() {
      try {
        tmux("kill-server");
      } catch {
        // Already gone.
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The shell line that runs agentbox from source. */
function agentboxLine(args: string, env = ""): string {
  return `env -u NO_COLOR ${env} ${Deno.execPath()} run --allow-all --quiet ` +
    `--config=${REPO}/deno.json ${REPO}/host/main.ts ${args}`;
}

Deno.test({
  name: "cli habits: --color=auto colours the error label on a terminal (tmux), not with NO_COLOR",
  ignore: !hasTmux,
  async fn() {
    await using term = await tmuxSession();
    const cases: [string, string, boolean][] = [
      ["", "", true],
      ["", "--color=never", false],
      ["NO_COLOR=1", "", false],
      ["NO_COLOR=1", "--color=always", true],
    ];
    for (const [n, [env, flags, coloured]] of cases.entries()) {
      const screen = await term.run(
        `${agentboxLine(`ps --bogus ${flags}`, env)}; echo "case${n} $?"`,
        new RegExp(`case${n} 125`),
      );
      const line = screen.split("\n").find((l) => l.includes("Unknown option --bogus"))!;
      assert.ok(line, screen);
      // capture-pane -e shows the colours the terminal got as SGR sequences.
      assert.equal(
        new RegExp(`agentbox: ${ESC}\\[[0-9;]*m.*error:`).test(line),
        coloured,
        `${env} ${flags}: ${JSON.stringify(line)}`,
      );
    }
    // Not a terminal: auto means no colour.
    const piped = await cli(["ps", "--bogus"], { env: { NO_COLOR: "" } });
    assert.ok(!piped.stderr.includes(ESC), piped.stderr);
  },
});

Deno.test({
  name: "cli habits: exec -t runs the command on a terminal, -i forwards a terminal's input (tmux)",
  ignore: !hasTmux,
  async fn() {
    await using term = await tmuxSession();
    const runtime = await Deno.makeTempDir({ prefix: "agentbox-habits-rt-" });
    const env = `XDG_RUNTIME_DIR=${runtime}`;
    try {
      // Without -t the guest command has pipes; with -t, a terminal.
      let screen = await term.run(
        `${agentboxLine("-q exec -- sh -c 'tty || true'", env)}; echo "plain $?"`,
        /plain \d+/,
        180_000,
      );
      assert.match(screen, /not a tty/);
      screen = await term.run(
        `${agentboxLine("-q exec -t -- sh -c 'tty; echo rows $(stty size)'", env)}; echo "tty $?"`,
        /tty \d+/,
        180_000,
      );
      assert.match(screen, /\/dev\/pts\/\d+/);
      assert.match(screen, /rows 30 200/);
      assert.match(screen, /tty 0/);
      // -i: what is typed on the terminal reaches the command's stdin.
      term.keys("clear", "Enter");
      term.keys("-l", `${agentboxLine("-q exec -i -- head -n 1", env)}; echo "input $?"`);
      term.keys("Enter");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      term.keys("-l", "typed-line-42");
      term.keys("Enter");
      assert.ok(await waitFor(() => /input 0/.test(term.screen()), 180_000), term.screen());
      assert.equal(term.screen().split("typed-line-42").length - 1, 2, term.screen()); // echo + output
    } finally {
      await Deno.remove(runtime, { recursive: true });
    }
  },
});
