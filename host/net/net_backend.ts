/**
 * Which guest network a session gets (`--net-backend`): `tap` (a tap device behind an nftables
 * wall; needs root, `ip`, `nft` and /dev/net/tun) or `user` (QEMU user networking, rootless).
 * `auto`, the default, takes the tap where it can be made and the user network elsewhere.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";

/** A guest network backend. */
export type NetBackend = "user" | "tap";

/** `--net-backend`: a backend, or `auto`. */
export type NetBackendChoice = NetBackend | "auto";

/** Every value `--net-backend` accepts. */
export const NET_BACKEND_CHOICES: readonly NetBackendChoice[] = ["auto", "tap", "user"];

/** `--net-backend tap` was asked for where a tap network cannot be made. */
export class NetBackendError extends AgentboxError {
  constructor(reason: string) {
    super(`Cannot use --net-backend tap: ${reason}; use --net-backend user (rootless)`, {
      kind: "unavailable",
      code: "tap_unavailable",
    });
    this.name = "NetBackendError";
  }
}

/**
 * Why a tap network cannot be made here, or `undefined` when it can.
 *
 * @example
 * ```ts
 * import { tapUnavailableReason } from "./net_backend.ts";
 * console.log(await tapUnavailableReason() ?? "tap networking is available");
 * ```
 */
export async function tapUnavailableReason(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "it needs root";
  if (!(await Deno.stat("/dev/net/tun").catch(() => undefined))) return "/dev/net/tun is missing";
  for (const [tool, flag, pkg] of [["ip", "-V", "iproute2"], ["nft", "--version", "nftables"]]) {
    const ok = await new Deno.Command(tool, {
      args: [flag],
      env: helperEnv(),
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    })
      .output().then((out) => out.success, () => false);
    if (!ok) return `\`${tool}\` is missing (install ${pkg})`;
  }
  return undefined;
}

/**
 * The backend for `choice`: `auto` becomes `tap` where a tap network can be made, else `user`.
 * Throws {@linkcode NetBackendError} when `tap` was asked for and cannot be made.
 *
 * @example
 * ```ts
 * import { resolveNetBackend } from "./net_backend.ts";
 * console.log(await resolveNetBackend("auto")); // "tap" as root, "user" otherwise
 * ```
 */
export async function resolveNetBackend(choice: NetBackendChoice): Promise<NetBackend> {
  if (choice === "user") return "user";
  const reason = await tapUnavailableReason();
  if (reason === undefined) return "tap";
  if (choice === "tap") throw new NetBackendError(reason);
  return "user";
}
