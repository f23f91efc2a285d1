/**
 * Warm round trip into a running VM: `agentbox exec --session S -- true` against `ssh` into the
 * same VM, in the same run (issue 7: agentbox ≥ 10× faster than ssh).
 *
 * One detached session on the `bench` image (the dev image plus OpenSSH, image/bench_profile.ts)
 * on a tap network, so the host reaches the guest's address, with root as the default user (ssh
 * logs in as root too). The bench writes an `authorized_keys` with a key it makes with
 * `ssh-keygen`, lets the guest make a host key, and starts the guest's sshd through the agent (key
 * authentication only). Then, round after round, interleaved:
 * - `cli`: `agentbox exec --session S -- true`, a new agentbox process (from source) each time;
 * - `ssh`: `ssh … root@GUEST true`, a new ssh process and connection each time (key exchange,
 *   authentication, a session channel);
 * - `ssh-mux`: the same through a ControlMaster connection opened once (no handshake);
 * - `client`: the agentbox round trip in this process (control socket, hello, exec, exit);
 * - `hello`: its host part alone (control socket and hello, answered by the session's owner);
 * - `floor`: `agentbox --version`, the CLI's process start alone.
 *
 * Needs root (tap networking), `ssh` and `ssh-keygen` on the host (Debian's openssh-client) and
 * the bench image (`agentbox images build bench`, root). Without a tap network (an agentbox
 * without `--net-backend tap`, or a session whose `ps --json` entry has no `guestAddress`) it
 * prints why and exits 2 without measuring.
 *
 * Run: deno run -A tests/bench/ssh_exec.ts [ROUNDS]   (default 30)
 *
 * @module
 */

import { join } from "node:path";
import { findImage } from "../../image/store.ts";
import {
  BenchCli,
  execTrueInProcess,
  helloInProcess,
  p50p95,
  report,
  timed,
  timeOnce,
} from "./session_bench.ts";

const rounds = Number(Deno.args[0] ?? 30);
const SESSION = "ssh-bench";
const IMAGE = "bench";
/** The guest directory of the sshd's keys, pid file and log. */
const GUEST_DIR = "/run/agentbox-bench-ssh";

/** Why the bench cannot measure on this host. */
class Skip extends Error {}

function skip(why: string): never {
  throw new Skip(why);
}

/** Run `cmd ARGS` to its end; throws with its stderr when it fails. */
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The shell script, run as root in the guest, that starts sshd for the key `$1`. */
const START_SSHD = `set -e
d=${GUEST_DIR}
mkdir -p -m 700 "$d" /run/sshd
printf '%s\\n' "$1" > "$d/authorized_keys"
ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
/usr/sbin/sshd -f /dev/null -h "$d/host_ed25519" -o AuthorizedKeysFile="$d/authorized_keys" \\
  -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \\
  -o KbdInteractiveAuthentication=no -o PidFile="$d/sshd.pid" -E "$d/sshd.log"`;

/** Wait until `address:22` accepts a connection. */
async function waitForPort(address: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: address, port: 22 })).close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`sshd at ${address}:22: ${e}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Stop with a reason when this host cannot run the bench. */
async function preflight(): Promise<void> {
  if (Deno.uid() !== 0) skip("tap networking needs root");
  for (const tool of ["ssh", "ssh-keygen"]) {
    await run("sh", ["-c", `command -v ${tool}`]).catch(() =>
      skip(`no ${tool} on PATH: apt-get install -y --no-install-recommends openssh-client`)
    );
  }
  await findImage(IMAGE).catch((e) => skip(e.message));
}

const cli = new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-ssh-" }));
const key = join(cli.root, "id_ed25519");
const control = join(cli.root, "ssh-control");
let started = false;
try {
  await preflight();
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "agentbox-bench", "-f", key]);
  await cli.run([
    "run",
    "--detach",
    "--image",
    IMAGE,
    "--no-share",
    "--user",
    "root",
    "--net-backend",
    "tap",
    "--name",
    SESSION,
  ]).catch((e) => skip(`no tap session: ${e.message.trim()}`));
  started = true;
  const session = await cli.session(SESSION);
  const address = session.guestAddress ?? skip("the session's ps entry has no guestAddress");

  const pub = (await Deno.readTextFile(`${key}.pub`)).trim();
  await cli.run([
    "exec",
    "--session",
    SESSION,
    "--",
    "sh",
    "-c",
    START_SSHD,
    "sh",
    pub,
  ]);
  await waitForPort(address);

  const sshOptions = [
    "-F",
    "/dev/null",
    "-i",
    key,
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
  ];
  const target = `root@${address}`;
  await run("ssh", [...sshOptions, "-o", `ControlPath=${control}`, "-M", "-f", "-N", target]);

  const measures: Record<string, () => Promise<unknown>> = {
    cli: () => cli.run(["exec", "--session", SESSION, "--", "true"]),
    ssh: () => run("ssh", [...sshOptions, target, "true"]),
    "ssh-mux": () => run("ssh", [...sshOptions, "-o", `ControlPath=${control}`, target, "true"]),
    client: () => execTrueInProcess(session.controlSocket),
    hello: () => helloInProcess(session.controlSocket),
    floor: () => cli.run(["--version"]),
  };
  for (const once of Object.values(measures)) await timed(3, once); // warm up
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(measures).map((label) => [label, []]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const [label, once] of Object.entries(measures)) times[label].push(await timeOnce(once));
  }
  for (const sorted of Object.values(times)) sorted.sort((a, b) => a - b);
  for (const [label, sorted] of Object.entries(times)) report(label, sorted);

  const ratio = (slow: string, fast: string) => {
    const [s, f] = [p50p95(times[slow]), p50p95(times[fast])];
    console.log(
      `${slow} / ${fast}: p50 ${(s.p50 / f.p50).toFixed(2)}×  p95 ${(s.p95 / f.p95).toFixed(2)}×`,
    );
  };
  ratio("ssh", "cli");
  const met = p50p95(times.ssh).p50 / p50p95(times.cli).p50 >= 10;
  console.log(`target ssh / cli p50 ≥ 10×: ${met ? "met" : "not met"}`);
  ratio("ssh-mux", "cli");
  ratio("ssh", "client");
  ratio("ssh-mux", "client");
} catch (e) {
  if (!(e instanceof Skip)) throw e;
  console.error(`ssh_exec: not measured: ${e.message}`);
  Deno.exitCode = 2;
} finally {
  await run("ssh", ["-F", "/dev/null", "-o", `ControlPath=${control}`, "-O", "exit", "bench"])
    .catch(() => {});
  if (started) await cli.remove(SESSION);
  await Deno.remove(cli.root, { recursive: true });
}
