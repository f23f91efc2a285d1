/**
 * Whether Cloud Hypervisor can run VMs on this host: its binary (`AGENTBOX_CLOUD_HYPERVISOR`, else
 * `cloud-hypervisor` on PATH) answers `--version`, and KVM can run a guest. Cloud Hypervisor has no
 * software emulation, so a `/dev/kvm` that exists but cannot run a guest (nested or PVM hosts)
 * rules it out; the KVM answer is QEMU's real probe (qemu/accel.ts, cached by accel_cache.ts),
 * which is what tells such hosts apart.
 *
 * @module
 */

import { helperEnv } from "../../helper_env.ts";
import { VmError } from "../errors.ts";
import type { Accel } from "../qemu/accel.ts";
import { cachedProbeAccel } from "../qemu/accel_cache.ts";
import { DEFAULT_QEMU } from "../qemu/qemu_vm.ts";

/** The Cloud Hypervisor binary used unless `AGENTBOX_CLOUD_HYPERVISOR` names another. */
export const DEFAULT_CLOUD_HYPERVISOR = "cloud-hypervisor";

/** The answer of {@linkcode probeCloudHypervisor}. */
export type CloudHypervisorSupport =
  | { usable: true; binary: string; version: string }
  | { usable: false; binary: string; reasons: string[] };

/** Options of {@linkcode probeCloudHypervisor}; the defaults are the real ones. */
export interface ProbeOptions {
  /** Default `AGENTBOX_CLOUD_HYPERVISOR`, else {@linkcode DEFAULT_CLOUD_HYPERVISOR}. */
  binary?: string;
  /** The KVM probe; default QEMU's cached one. */
  probeKvm?: () => Promise<Accel>;
}

/**
 * The Cloud Hypervisor binary to run.
 *
 * @example
 * ```ts
 * import { cloudHypervisorBinary } from "./ch_setup.ts";
 * console.log(cloudHypervisorBinary()); // "cloud-hypervisor" unless AGENTBOX_CLOUD_HYPERVISOR is set
 * ```
 */
export function cloudHypervisorBinary(): string {
  return Deno.env.get("AGENTBOX_CLOUD_HYPERVISOR") || DEFAULT_CLOUD_HYPERVISOR;
}

/**
 * Check the binary and KVM; every reason that rules Cloud Hypervisor out is reported.
 *
 * @example
 * ```ts
 * import { probeCloudHypervisor } from "./ch_setup.ts";
 * const support = await probeCloudHypervisor();
 * console.log(support.usable ? support.version : support.reasons.join("; "));
 * ```
 */
export async function probeCloudHypervisor(
  options: ProbeOptions = {},
): Promise<CloudHypervisorSupport> {
  const binary = options.binary ?? cloudHypervisorBinary();
  const probeKvm = options.probeKvm ?? defaultKvmProbe;
  const [version, accel] = await Promise.all([
    binaryVersion(binary),
    probeKvm().catch((error: Error): Accel => ({ kind: "tcg", reason: error.message })),
  ]);
  const reasons: string[] = [];
  if (version === undefined) {
    reasons.push(
      `${binary} is not installed (not found, or it does not run; set AGENTBOX_CLOUD_HYPERVISOR ` +
        `to its path)`,
    );
  }
  if (accel.kind !== "kvm") reasons.push(`it needs KVM: ${accel.reason}`);
  return version !== undefined && reasons.length === 0
    ? { usable: true, binary, version }
    : { usable: false, binary, reasons };
}

/**
 * {@linkcode probeCloudHypervisor}, as a precondition: the binary to run, or a
 * {@linkcode VmError} with one line saying why Cloud Hypervisor cannot be used.
 *
 * @example
 * ```ts
 * import { requireCloudHypervisor } from "./ch_setup.ts";
 * const binary = await requireCloudHypervisor();
 * ```
 */
export async function requireCloudHypervisor(options: ProbeOptions = {}): Promise<string> {
  const support = await probeCloudHypervisor(options);
  if (support.usable) return support.binary;
  throw new VmError(
    `Cannot use Cloud Hypervisor: ${support.reasons.join("; ")} (use --vmm qemu)`,
  );
}

function defaultKvmProbe(): Promise<Accel> {
  const qemu = Deno.env.get("AGENTBOX_QEMU") || DEFAULT_QEMU;
  return cachedProbeAccel(qemu).catch(() => ({
    kind: "tcg",
    reason: `KVM could not be checked: the probe needs QEMU (${qemu})`,
  }));
}

async function binaryVersion(binary: string): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(binary, {
      args: ["--version"],
      env: helperEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return undefined;
    return new TextDecoder().decode(output.stdout).trim().split("\n")[0] || binary;
  } catch {
    return undefined;
  }
}
