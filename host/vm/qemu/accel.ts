/**
 * Choose between KVM and TCG by trying KVM for real: `/dev/kvm` can exist and still be unable to
 * run a guest (nested or PVM hosts abort with "failed to set MSR 0x10a"), so its presence proves
 * nothing.
 *
 * @module
 */

import { helperEnv } from "../../helper_env.ts";

/** The accelerator to use and, for TCG, why KVM was not. */
export type Accel = { kind: "kvm" } | { kind: "tcg"; reason: string };

const PROBE_TIMEOUT_MS = 5000;
const SETTLE_MS = 150;

/**
 * Start QEMU paused with KVM, let its vCPUs initialise, then ask it to quit over QMP. A usable KVM
 * exits cleanly; an unusable one aborts while setting up the vCPUs.
 *
 * @example
 * ```ts
 * import { probeAccel } from "./accel.ts";
 * const accel = await probeAccel("qemu-system-x86_64");
 * if (accel.kind === "tcg") console.warn(accel.reason);
 * ```
 */
export async function probeAccel(qemu: string): Promise<Accel> {
  try {
    await Deno.open("/dev/kvm", { read: true, write: true }).then((f) => f.close());
  } catch (error) {
    return { kind: "tcg", reason: `/dev/kvm is not usable (${(error as Error).message})` };
  }
  const child = new Deno.Command(qemu, {
    args: [
      ...["-accel", "kvm", "-cpu", "host", "-M", "microvm", "-nodefaults", "-no-user-config"],
      ...["-display", "none", "-serial", "none", "-S", "-qmp", "stdio"],
    ],
    env: helperEnv(),
    clearEnv: true,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
  const writer = child.stdin.getWriter();
  const send = (command: string) =>
    writer.write(new TextEncoder().encode(`{"execute":"${command}"}\n`)).catch(() => {});
  await send("qmp_capabilities");
  // vCPU setup runs in its own threads right after the monitor starts; give it time to fail.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  await send("quit");
  await writer.close().catch(() => {});
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  clearTimeout(timer);
  if (status.success) return { kind: "kvm" };
  return { kind: "tcg", reason: `KVM cannot run a guest here (${firstLine(stderr)})` };
}

function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.includes("error")) ?? text.split("\n")[0];
  return line.replace(/^qemu-system-[\w-]+: /, "").trim() || "QEMU exited";
}
