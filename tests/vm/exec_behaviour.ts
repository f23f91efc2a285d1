/**
 * The guest agent in a real microVM (QEMU, TCG here), driven by the host client: the exec
 * behaviour tests, registered by exec_test.ts (booted VM) and exec_restored_test.ts (VM restored
 * from a template snapshot). One VM per file: these tests are about exec, not boot.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { RunningVm } from "../../host/vm/qemu/qemu_vm.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { randomBytes, readAll, sha256, streamDigest } from "../helpers.ts";

const NO_SANITIZE = { sanitizeOps: false, sanitizeResources: false };

/**
 * Register the exec behaviour tests on one VM started the `path` way: booted cold, or restored
 * from the image's template snapshot (made first if missing). Restore is where channels break, so
 * every behaviour runs on both (exec_test.ts, exec_restored_test.ts).
 */
export function execBehaviourTests(path: "booted" | "restored"): void {
  let shared: Promise<RunningVm> | undefined;
  const vm = () => shared ??= bootVm({ cpus: 2, memoryMb: 1024, template: path === "restored" });
  const name = (what: string) => `vm (${path}): ${what}`;

  Deno.test({ name: name("the VM was " + path), ...NO_SANITIZE }, async () => {
    assert.equal((await vm()).restored, path === "restored");
  });

  async function run(argv: string[], options: { stdin?: Uint8Array; timeoutMs?: number } = {}) {
    const handle = (await vm()).agent.exec({
      argv,
      timeoutMs: options.timeoutMs,
      stdin: options.stdin ? ReadableStream.from([options.stdin]) : undefined,
    });
    const [stdout, stderr, result] = await Promise.all([
      readAll(handle.stdout),
      readAll(handle.stderr),
      handle.result,
    ]);
    const text = new TextDecoder();
    return { stdout: text.decode(stdout), stderr: text.decode(stderr), ...result };
  }

  Deno.test({ name: name("echo"), ...NO_SANITIZE }, async () => {
    const r = await run(["echo", "hello from the guest"]);
    assert.deepEqual([r.stdout, r.stderr, r.code, r.signal], [
      "hello from the guest\n",
      "",
      0,
      null,
    ]);
  });

  Deno.test({ name: name("exit codes 0, 1 and 255"), ...NO_SANITIZE }, async () => {
    for (const code of [0, 1, 255]) {
      assert.equal((await run(["sh", "-c", `exit ${code}`])).code, code);
    }
  });

  Deno.test(
    { name: name("death by signal is reported as the signal"), ...NO_SANITIZE },
    async () => {
      const r = await run(["sh", "-c", "kill -TERM $$"]);
      assert.deepEqual([r.code, r.signal, r.timedOut], [null, "SIGTERM", false]);
    },
  );

  /**
   * 50 MB of random bytes on `fd`, byte-exact: tee copies them to `fd` (through fd 3) while
   * sha256sum reports, on the other stream, what the guest sent.
   */
  async function randomBytesArriveIntact(fd: 1 | 2): Promise<void> {
    const other = fd === 1 ? 2 : 1;
    const handle = (await vm()).agent.exec({
      argv: [
        "sh",
        "-c",
        `exec 3>&${fd}; head -c 50000000 /dev/urandom | tee /proc/self/fd/3 | sha256sum >&${other}`,
      ],
    });
    const [data, report] = fd === 1
      ? [handle.stdout, handle.stderr]
      : [handle.stderr, handle.stdout];
    const [received, hash, result] = await Promise.all([
      streamDigest(data),
      readAll(report),
      handle.result,
    ]);
    assert.equal(result.code, 0);
    assert.equal(received.bytes, 50_000_000);
    assert.equal(received.sha256, new TextDecoder().decode(hash).split(" ")[0]);
  }

  Deno.test(
    { name: name("50 MB of random bytes on stdout, byte-exact"), ...NO_SANITIZE },
    () => randomBytesArriveIntact(1),
  );

  Deno.test(
    { name: name("50 MB of random bytes on stderr, byte-exact"), ...NO_SANITIZE },
    () => randomBytesArriveIntact(2),
  );

  Deno.test({ name: name("stdin round trip, 4 MB"), ...NO_SANITIZE }, async () => {
    const input = randomBytes(4 * 1024 * 1024);
    const r = await run(["sha256sum"], { stdin: input });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.split(" ")[0], await sha256(input));
  });

  Deno.test({ name: name("20 concurrent execs in one VM"), ...NO_SANITIZE }, async () => {
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => run(["sh", "-c", `sleep 0.2; echo out-${i}; exit ${i}`]),
      ),
    );
    results.forEach((r, i) => assert.deepEqual([r.stdout, r.code], [`out-${i}\n`, i]));
  });

  Deno.test({ name: name("a timeout kills the whole process tree"), ...NO_SANITIZE }, async () => {
    const r = await run(["sh", "-c", "sleep 1001 & sleep 1002 & echo started; wait"], {
      timeoutMs: 1500,
    });
    assert.equal(r.stdout, "started\n");
    assert.deepEqual([r.timedOut, r.signal], [true, "SIGKILL"]);
    // Positive control first: ps sees a process we know is running.
    const ps = await run(["sh", "-c", "sleep 1003 & ps -o args; kill $!"]);
    assert.match(ps.stdout, /sleep 1003/);
    assert.doesNotMatch(ps.stdout, /sleep 100[12]/);
  });

  Deno.test({ name: name("command not found is a spawn failure"), ...NO_SANITIZE }, async () => {
    await assert.rejects(run(["no-such-command-here"]), {
      name: "AgentError",
      code: "spawn_failed",
    });
  });

  Deno.test(
    { name: name("a command on a terminal: size, keys, Ctrl-C, resize"), ...NO_SANITIZE },
    async () => {
      const stdin = new TransformStream<Uint8Array, Uint8Array>();
      const keys = stdin.writable.getWriter();
      const handle = (await vm()).agent.exec({
        argv: [
          "sh",
          "-c",
          'stty size; tty; echo "TERM=$TERM"; read line; echo "read $line"; ' +
          "trap 'stty size' WINCH; echo waiting; while :; do sleep 0.1; done",
        ],
        pty: { rows: 30, cols: 90, term: "xterm-256color" },
        stdin: stdin.readable,
      });
      const decoder = new TextDecoder();
      let screen = "";
      const reading = (async () => {
        for await (const chunk of handle.stdout) screen += decoder.decode(chunk, { stream: true });
      })();
      const until = async (needle: string) => {
        const deadline = Date.now() + 30_000;
        while (!screen.includes(needle) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(screen.includes(needle), `${needle} in ${JSON.stringify(screen)}`);
      };
      await until("TERM=xterm-256color\r\n");
      assert.match(screen, /^30 90\r\n\/dev\/pts\/\d+\r\n/);
      await keys.write(new TextEncoder().encode("typed\n"));
      await until("read typed\r\nwaiting\r\n");
      await handle.resize({ rows: 40, cols: 120 });
      await until("40 120\r\n");
      await keys.write(new TextEncoder().encode("\x03"));
      const [result, stderr] = await Promise.all([handle.result, readAll(handle.stderr), reading]);
      assert.deepEqual([result.code, result.signal, stderr.length], [null, "SIGINT", 0]);
    },
  );

  Deno.test({ name: name("stop the shared VM"), ...NO_SANITIZE }, async () => {
    const machine = await vm();
    await machine.stop();
    const exit = await machine.exited;
    assert.ok(exit.code === 0 || exit.signal === "SIGKILL", `QEMU ended: ${JSON.stringify(exit)}`);
  });
}
