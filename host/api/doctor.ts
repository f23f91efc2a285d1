/**
 * `doctor` as data: everything agentbox needs on this host, each check with its outcome and how
 * to fix it. `fix` removes what crashed sessions left behind. The CLI renders the list.
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { tapUnavailableReason } from "../net/net_backend.ts";
import { wallTableName } from "../net/nft_wall.ts";
import { sweepTapOrphans } from "../net/tap_orphans.ts";
import { findRelay } from "../net/user_network.ts";
import { type Accel, probeAccel } from "../vm/qemu/accel.ts";
import { probeCloudHypervisor } from "../vm/cloud_hypervisor/ch_setup.ts";
import { DEFAULT_QEMU } from "../vm/qemu/qemu_vm.ts";

/** One check's outcome. `required` checks make doctor fail; others are advisory. */
export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  fix?: string;
}

/**
 * Run every check; `fix` removes the orphans of crashed sessions.
 *
 * @example
 * ```ts
 * import { runChecks } from "./doctor.ts";
 * const ready = (await runChecks()).every((c) => c.ok || !c.required);
 * ```
 */
export async function runChecks(options: { fix?: boolean } = {}): Promise<Check[]> {
  const qemu = Deno.env.get("AGENTBOX_QEMU") || DEFAULT_QEMU;
  const qemuVersion = await commandOutput(qemu, ["--version"]);
  const accel = qemuVersion === undefined ? undefined : await probeAccel(qemu);
  return [
    {
      name: "qemu",
      ok: qemuVersion !== undefined,
      required: true,
      detail: qemuVersion?.split("\n")[0] ?? `${qemu} not found`,
      fix: "apt-get install qemu-system-x86",
    },
    kvmCheck(accel),
    await fileCheck(
      "vhost-vsock",
      "/dev/vhost-vsock",
      false,
      "modprobe vhost_vsock (optional: virtio-serial is used otherwise)",
    ),
    await imageCheck(),
    await binaryCheck("setpriv", ["--version"], true, "apt-get install util-linux"),
    await relayCheck(),
    await binaryCheck("mkfs.erofs", ["--help"], false, "apt-get install erofs-utils"),
    await fileCheck(
      "virtiofsd",
      "/usr/lib/qemu/virtiofsd",
      false,
      "apt-get install qemu-system-common",
    ),
    ...await tapChecks(options.fix === true),
    await cloudHypervisorCheck(accel),
  ];
}

function kvmCheck(accel: Accel | undefined): Check {
  if (!accel) {
    return { name: "kvm", ok: false, required: false, detail: "not checked: QEMU is missing" };
  }
  return accel.kind === "kvm"
    ? { name: "kvm", ok: true, required: false, detail: "KVM runs guests" }
    : {
      name: "kvm",
      ok: false,
      required: false,
      detail: `${accel.reason}; agentbox will use slow software emulation (TCG)`,
      fix:
        "enable virtualization in the BIOS, load kvm_intel/kvm_amd, and add yourself to the kvm group",
    };
}

/** Whether tap networks can be made here, and what crashed sessions left of theirs. */
async function tapChecks(fix: boolean): Promise<Check[]> {
  const reason = await tapUnavailableReason();
  return [
    tapCheck(reason),
    reason === undefined ? await orphanCheck(fix) : {
      name: ORPHANS,
      ok: true,
      required: false,
      detail: "none (no tap networking here)",
    },
  ];
}

function tapCheck(reason: string | undefined): Check {
  return {
    name: "tap networking",
    ok: reason === undefined,
    required: false,
    detail: reason === undefined
      ? "a tap device and an nftables wall per VM (--net-backend auto picks it)"
      : `unavailable: ${reason}; VMs use QEMU user networking (rootless, same policy)`,
    fix: "run as root with iproute2 and nftables installed (optional)",
  };
}

const ORPHANS = "crashed sessions' leftovers";

async function orphanCheck(fix: boolean): Promise<Check> {
  const name = ORPHANS;
  try {
    const orphans = await sweepTapOrphans({ remove: fix });
    const found = [...orphans.taps.map((t) => `tap ${t}`), ...orphans.walls.map(wallName)];
    if (found.length === 0) return { name, ok: true, required: false, detail: "none" };
    return fix ? { name, ok: true, required: false, detail: `removed ${found.join(", ")}` } : {
      name,
      ok: false,
      required: false,
      detail: `left by crashed sessions: ${found.join(", ")}`,
      fix: "agentbox doctor --fix",
    };
  } catch (error) {
    return { name, ok: false, required: false, detail: (error as Error).message };
  }
}

function wallName(sessionId: string): string {
  return `nftables table inet ${wallTableName(sessionId)}`;
}

/** Informational: QEMU is the default, so a missing Cloud Hypervisor never fails doctor. */
async function cloudHypervisorCheck(accel: Accel | undefined): Promise<Check> {
  const support = await probeCloudHypervisor({
    probeKvm: () =>
      Promise.resolve(
        accel ?? { kind: "tcg", reason: "KVM could not be checked: QEMU is missing" },
      ),
  });
  return support.usable
    ? {
      name: "cloud-hypervisor",
      ok: true,
      required: false,
      detail: `${support.version} with KVM: --vmm cloud-hypervisor works (with the tap network)`,
    }
    : {
      name: "cloud-hypervisor",
      ok: false,
      required: false,
      detail: `not usable (optional; QEMU is the default): ${support.reasons.join("; ")}`,
      fix: "install Cloud Hypervisor (it is not packaged for Debian 12) on a host with working " +
        "KVM, or set AGENTBOX_CLOUD_HYPERVISOR to its binary",
    };
}

async function imageCheck(): Promise<Check> {
  try {
    const image = await findImage("default");
    return { name: "image", ok: true, required: true, detail: `default image at ${image.dir}` };
  } catch (error) {
    return {
      name: "image",
      ok: false,
      required: true,
      detail: (error as Error).message,
      fix: "agentbox images build",
    };
  }
}

async function relayCheck(): Promise<Check> {
  const found = await findRelay().then((path) => path, () => undefined);
  return {
    name: "network relay",
    ok: found !== undefined,
    required: false,
    detail: found ? `${found} nc relays guest connections to the proxy` : "busybox is missing",
    fix: "apt-get install busybox-static (without it only --net none works)",
  };
}

async function fileCheck(
  name: string,
  path: string,
  required: boolean,
  fix: string,
): Promise<Check> {
  const ok = await Deno.stat(path).then(() => true, () => false);
  return { name, ok, required, detail: ok ? path : `${path} is missing`, fix };
}

async function binaryCheck(
  name: string,
  args: string[],
  required: boolean,
  fix: string,
): Promise<Check> {
  const out = await commandOutput(name, args);
  return {
    name,
    ok: out !== undefined,
    required,
    detail: out === undefined ? `${name} not found` : out.split("\n")[0] || name,
    fix,
  };
}

async function commandOutput(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    return new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
  } catch {
    return undefined;
  }
}
