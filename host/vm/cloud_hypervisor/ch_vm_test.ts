/**
 * The Cloud Hypervisor lifecycle against a stand-in `cloud-hypervisor` process
 * (testing/fake_cloud_hypervisor.ts): Cloud Hypervisor needs KVM, which our build machines cannot
 * provide. Everything else is real: the process is spawned like the real binary, the API is HTTP
 * over its unix socket, the agent channel is a hybrid vsock handshake on a unix socket, and the
 * agent behind it is the guest agent's own session code. The real boot test is
 * tests/vm/cloud_hypervisor_test.ts (skipped where Cloud Hypervisor cannot run).
 */
import assert from "node:assert/strict";
import { VmError } from "../errors.ts";
import type { VmSpec } from "../spec.ts";
import { delay } from "../../delay.ts";
import { CloudHypervisorApi, CloudHypervisorError } from "./api_client.ts";
import { startChVm } from "./ch_vm.ts";
import { FAKE_CONSOLE_LINE, type LoggedRequest } from "./testing/fake_cloud_hypervisor.ts";

const FAKE = new URL("./testing/fake_cloud_hypervisor.ts", import.meta.url).pathname;

/** A temp dir with a `cloud-hypervisor` wrapper that runs the fake, logging to `log`. */
async function fakeBinary(options: { fail?: string } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-ch-test-" });
  const log = `${dir}/requests.jsonl`;
  const binary = `${dir}/cloud-hypervisor`;
  const fail = options.fail ? ` --fail ${options.fail}` : "";
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet '${FAKE}' --log '${log}'${fail} "$@"\n`,
    { mode: 0o755 },
  );
  const spec = async (name: string): Promise<VmSpec> => {
    const runtimeDir = `${dir}/${name}`;
    await Deno.mkdir(runtimeDir);
    return {
      kernel: "/images/default/vmlinuz",
      initrd: "/images/default/initrd.img",
      rootfs: "/images/default/rootfs.erofs",
      cpus: 2,
      memoryMb: 512,
      runtimeDir,
      bootTimeoutMs: 30_000,
    };
  };
  return {
    dir,
    binary,
    spec,
    /** The requests logged so far, and forget them. */
    async requests(): Promise<LoggedRequest[]> {
      const text = await Deno.readTextFile(log).catch(() => "");
      await Deno.remove(log).catch(() => {});
      return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * The actions in order, without the `vm.info` polls (they come every 500 ms) and with repeats
 * folded into one (`vmm.ping` while the API socket appears; a `vmm.shutdown` from both `stop` and
 * the poller that saw the VM shut down).
 */
function actions(requests: LoggedRequest[]): string[] {
  return requests.map((r) => r.action).filter((a) => a !== "vm.info").filter((a, i, all) =>
    all[i - 1] !== a
  );
}

async function echo(vm: { agent: import("../../channel/agent_client.ts").AgentClient }) {
  const run = vm.agent.exec({ argv: ["echo", "through hybrid vsock"] });
  const [out, result] = await Promise.all([new Response(run.stdout).text(), run.result]);
  await run.stderr.cancel();
  return { out, code: result.code };
}

Deno.test("ch vm: boot is ping, create, boot; the agent answers over hybrid vsock; stop shuts down", async () => {
  await using fake = await fakeBinary();
  const spec = await fake.spec("vm-1");
  const vm = await startChVm(spec, { binary: fake.binary });
  try {
    assert.deepEqual([vm.vmm, vm.channel, vm.accel.kind, vm.restored], [
      "cloud-hypervisor",
      "vsock",
      "kvm",
      false,
    ]);
    const requests = await fake.requests();
    assert.deepEqual(actions(requests), ["vmm.ping", "vm.create", "vm.boot"]);
    const create = requests.find((r) => r.action === "vm.create")!;
    assert.equal(create.method, "PUT");
    assert.deepEqual((create.body as Record<string, unknown>).vsock, {
      cid: 3,
      socket: `${spec.runtimeDir}/vsock.sock`,
      id: "agent",
    });
    assert.deepEqual(await echo(vm), { out: "through hybrid vsock\n", code: 0 });
    assert.match(await vm.consoleTail(), new RegExp(FAKE_CONSOLE_LINE));
  } finally {
    await vm.stop();
  }
  assert.deepEqual(actions(await fake.requests()), ["vm.shutdown", "vmm.shutdown"]);
  assert.equal((await vm.exited).code, 0);
  assert.equal(await Deno.stat(spec.runtimeDir).then(() => true, () => false), false);
});

Deno.test("ch vm: saveState pauses and snapshots a directory; a restore rewrites its sockets", async () => {
  await using fake = await fakeBinary();
  const first = await fake.spec("vm-1");
  const snapshotDir = `${fake.dir}/snapshot`;
  const vm = await startChVm(first, { binary: fake.binary });
  let paused = false;
  try {
    await fake.requests();
    await vm.saveState(snapshotDir, { whilePaused: () => Promise.resolve(void (paused = true)) });
    assert.ok(paused);
    const requests = await fake.requests();
    assert.deepEqual(actions(requests), ["vm.pause", "vm.snapshot"]);
    assert.deepEqual(requests.find((r) => r.action === "vm.snapshot")!.body, {
      destination_url: `file://${snapshotDir}`,
    });
  } finally {
    await vm.stop();
  }
  await fake.requests();

  const second = await fake.spec("vm-2");
  const restored = await startChVm(second, { binary: fake.binary, restoreFrom: snapshotDir });
  try {
    assert.equal(restored.restored, true);
    const requests = await fake.requests();
    assert.deepEqual(actions(requests), ["vmm.ping", "vm.restore", "vm.resume"]);
    const source = `${second.runtimeDir}/restore`;
    assert.deepEqual(requests.find((r) => r.action === "vm.restore")!.body, {
      source_url: `file://${source}`,
    });
    const config = JSON.parse(await Deno.readTextFile(`${source}/config.json`));
    assert.equal(config.vsock.socket, `${second.runtimeDir}/vsock.sock`);
    assert.equal(config.serial.socket, `${second.runtimeDir}/console.sock`);
    assert.equal((await Deno.stat(`${source}/memory-ranges`)).size, 4096);
    assert.deepEqual(await echo(restored), { out: "through hybrid vsock\n", code: 0 });
  } finally {
    await restored.stop();
  }
});

Deno.test("ch vm: a guest that powers off ends the VMM, like QEMU's -no-reboot", async () => {
  await using fake = await fakeBinary();
  const spec = await fake.spec("vm-1");
  const vm = await startChVm(spec, { binary: fake.binary });
  try {
    // What a guest's poweroff does to Cloud Hypervisor: the VM is Shutdown, the VMM runs on.
    const guest = new CloudHypervisorApi(`${spec.runtimeDir}/ch-api.sock`);
    await guest.shutdownVm();
    guest.close();
    const exit = await Promise.race([vm.exited, delay(5000)]);
    assert.equal(exit?.code, 0, "the VMM exits");
    assert.deepEqual(actions(await fake.requests()).slice(-2), ["vm.shutdown", "vmm.shutdown"]);
  } finally {
    await vm.stop();
  }
});

Deno.test("ch vm: an API error stops the VMM and carries Cloud Hypervisor's message", async () => {
  await using fake = await fakeBinary({ fail: "vm.boot" });
  const spec = await fake.spec("vm-1");
  const error = await startChVm(spec, { binary: fake.binary }).catch((e) => e);
  assert.ok(error instanceof CloudHypervisorError, String(error));
  assert.equal(error.action, "vm.boot");
  assert.equal(error.status, 500);
  assert.match(
    error.message,
    /^Cloud Hypervisor refused vm\.boot \(HTTP 500\): Error from API: .*InjectedFailure$/,
  );
  // Stopped: shutdown requests sent, runtime directory gone.
  assert.deepEqual(actions(await fake.requests()).slice(-2), ["vm.shutdown", "vmm.shutdown"]);
  assert.equal(await Deno.stat(spec.runtimeDir).then(() => true, () => false), false);
});

Deno.test("ch vm: a binary that exits at once fails with its first stderr line", async () => {
  await using fake = await fakeBinary();
  const binary = `${fake.dir}/broken`;
  await Deno.writeTextFile(binary, "#!/bin/sh\necho 'Error parsing config: bad' >&2\nexit 1\n", {
    mode: 0o755,
  });
  const error = await startChVm(await fake.spec("vm-1"), { binary }).catch((e) => e);
  assert.ok(error instanceof CloudHypervisorError);
  assert.equal(error.message, "Cloud Hypervisor exited at start: Error parsing config: bad");
});

Deno.test("ch vm: a user network is refused before anything starts", async () => {
  await using fake = await fakeBinary();
  const spec = await fake.spec("vm-1");
  const error = await startChVm(
    {
      ...spec,
      network: { kind: "user", forwards: [], relay: "/bin/busybox", relayKey: "/dev/null" },
    },
    { binary: fake.binary },
  ).catch((e) => e);
  assert.ok(error instanceof VmError);
  assert.match(error.message, /needs the tap network/);
  assert.deepEqual(await fake.requests(), []);
});
