/**
 * The host's TSC frequency, which a TCG guest's TSC runs at (QEMU reads the host's TSC for it).
 *
 * @module
 */

/**
 * The frequency in kHz from `/proc/cpuinfo` ("cpu MHz" of the first CPU), or undefined when it
 * cannot be read. With `constant_tsc`, as on virtual machines and most hosts without frequency
 * scaling, that is the TSC's rate; where the CPU scales its clock it is an estimate, which only
 * makes the guest's short busy-wait delays longer or shorter — its clock source is jiffies under
 * TCG anyway.
 *
 * @example
 * ```ts
 * import { hostTscKhz } from "./host_tsc.ts";
 * console.log(await hostTscKhz()); // e.g. 2596128
 * ```
 */
export async function hostTscKhz(cpuinfo = "/proc/cpuinfo"): Promise<number | undefined> {
  const text = await Deno.readTextFile(cpuinfo).catch(() => "");
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1]);
  return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : undefined;
}
