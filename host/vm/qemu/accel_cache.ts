/**
 * Remember the KVM probe's answer until something that could change it changes: the host
 * rebooted, `/dev/kvm` was recreated, or QEMU was replaced. Saves a QEMU start (~170 ms) per VM.
 *
 * @module
 */

import { runtimeDir } from "../../paths.ts";
import { type Accel, probeAccel } from "./accel.ts";

/** Options for {@linkcode cachedProbeAccel}; the defaults are the real ones. */
export interface AccelCacheOptions {
  cacheFile?: string;
  probe?: (qemu: string) => Promise<Accel>;
}

/**
 * {@linkcode probeAccel}, answered from a cache file when its key still matches.
 *
 * @example
 * ```ts
 * import { cachedProbeAccel } from "./accel_cache.ts";
 * const accel = await cachedProbeAccel("qemu-system-x86_64");
 * ```
 */
export async function cachedProbeAccel(
  qemu: string,
  options: AccelCacheOptions = {},
): Promise<Accel> {
  let file: string;
  try {
    file = options.cacheFile ?? `${runtimeDir()}/accel.json`;
  } catch {
    // An unusable runtime directory is reported by whoever needs it for more than a cache.
    return await (options.probe ?? probeAccel)(qemu);
  }
  const probe = options.probe ?? probeAccel;
  const key = await cacheKey(qemu);
  try {
    const cached = JSON.parse(await Deno.readTextFile(file));
    if (cached.key === key && isAccel(cached.accel)) return cached.accel;
  } catch {
    // No cache yet, or a damaged one: probe.
  }
  const accel = await probe(qemu);
  await writeCache(file, { key, accel });
  return accel;
}

/**
 * Whether the warning that KVM is unusable is still due: true the first time it is asked after
 * the probe's answer was cached (once per host boot, QEMU or /dev/kvm change), false after, as
 * the docs promise "once". The answer is kept with the probe's, in the same file.
 *
 * @example
 * ```ts
 * import { claimTcgWarning } from "./accel_cache.ts";
 * if (await claimTcgWarning("qemu-system-x86_64")) console.warn("KVM is not available");
 * ```
 */
export async function claimTcgWarning(
  qemu: string,
  options: Pick<AccelCacheOptions, "cacheFile"> = {},
): Promise<boolean> {
  let file: string;
  try {
    file = options.cacheFile ?? `${runtimeDir()}/accel.json`;
  } catch {
    return true;
  }
  const key = await cacheKey(qemu);
  let cached: { key?: unknown; accel?: unknown; warned?: unknown };
  try {
    cached = JSON.parse(await Deno.readTextFile(file));
  } catch {
    return true; // No cache to remember it in: warn every time rather than never.
  }
  if (cached.key !== key || !isAccel(cached.accel)) return true;
  if (cached.warned === true) return false;
  await writeCache(file, { ...cached, warned: true });
  return true;
}

async function writeCache(file: string, value: unknown): Promise<void> {
  try {
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true, mode: 0o700 });
    const temp = `${file}.${crypto.randomUUID()}`;
    await Deno.writeTextFile(temp, JSON.stringify(value));
    await Deno.rename(temp, file);
  } catch {
    // A cache we cannot write only costs the next probe (or warning).
  }
}

async function cacheKey(qemu: string): Promise<string> {
  const bootId = await Deno.readTextFile("/proc/sys/kernel/random/boot_id").catch(() => "");
  const kvm = await Deno.stat("/dev/kvm").then((s) => `${s.ino}:${s.ctime?.getTime()}`, () => "");
  const binary = await which(qemu);
  const qemuStat = await Deno.stat(binary).then((s) => `${s.ino}:${s.mtime?.getTime()}`, () => "");
  return [bootId.trim(), kvm, binary, qemuStat].join("|");
}

async function which(command: string): Promise<string> {
  if (command.includes("/")) return command;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = `${dir}/${command}`;
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  return command;
}

function isAccel(value: unknown): value is Accel {
  const v = value as Accel | null;
  return v?.kind === "kvm" || (v?.kind === "tcg" && typeof v.reason === "string");
}
