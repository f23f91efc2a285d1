/**
 * Tap devices of sessions, made and removed with `ip` (iproute2). Each carries its session: the
 * name is `ab` and the first 12 hex digits of the session id, the alias is
 * `agentbox session <id>`. Only devices with both are ever removed, so agentbox never touches an
 * interface it did not make.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";

/** A tap device agentbox made. */
export interface TapDevice {
  ifname: string;
  sessionId: string;
}

/**
 * A tap network could not be made (`ip` failed, or `nft`: {@linkcode NftError} in nft_wall.ts);
 * the message says how to do without one.
 */
export class TapError extends AgentboxError {
  constructor(message: string) {
    super(`${message} (to run without a tap network: --net-backend user)`, {
      kind: "unavailable",
      code: "tap_failed",
    });
    this.name = "TapError";
  }
}

const ALIAS_PREFIX = "agentbox session ";

/**
 * The tap name of session `sessionId` (15 characters at most, as Linux wants).
 *
 * @example
 * ```ts
 * import { tapName } from "./tap_device.ts";
 * console.assert(tapName("0123abcd-ef01-4000-8000-000000000000") === "ab0123abcdef01");
 * ```
 */
export function tapName(sessionId: string): string {
  const hex = sessionId.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`Invalid session id ${sessionId}`);
  return `ab${hex.slice(0, 12)}`;
}

/**
 * Make session `sessionId`'s tap, owned by the current user, with `gateway/prefixLength` on it,
 * and bring it up; IPv6 is switched off on it unless `ipv6` (the guest has no IPv6 peer). Throws
 * {@linkcode TapError}; a half-made device is removed again.
 *
 * @example
 * ```ts
 * import { createTap } from "./tap_device.ts";
 * declare const sessionId: string;
 * const ifname = await createTap(sessionId, "10.213.0.1", 30);
 * ```
 */
export async function createTap(
  sessionId: string,
  gateway: string,
  prefixLength: number,
  options: { ipv6?: boolean } = {},
): Promise<string> {
  const ifname = tapName(sessionId);
  await runIp(["tuntap", "add", "dev", ifname, "mode", "tap", "user", String(Deno.uid() ?? 0)]);
  try {
    await runIp(["link", "set", "dev", ifname, "alias", ALIAS_PREFIX + sessionId]);
    if (!options.ipv6) {
      await Deno.writeTextFile(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, "1")
        .catch(() => {}); // A kernel without IPv6 has nothing to switch off.
    }
    await runIp(["address", "add", `${gateway}/${prefixLength}`, "dev", ifname]);
    await runIp(["link", "set", "dev", ifname, "up"]);
    return ifname;
  } catch (error) {
    await runIp(["link", "delete", "dev", ifname]).catch(() => {});
    throw error;
  }
}

/**
 * Remove the tap `ifname`; one that is already gone is not an error.
 *
 * @example
 * ```ts
 * import { deleteTap } from "./tap_device.ts";
 * await deleteTap("ab0123abcdef01");
 * ```
 */
export async function deleteTap(ifname: string): Promise<void> {
  if (!(await listTaps()).some((tap) => tap.ifname === ifname)) return;
  await runIp(["link", "delete", "dev", ifname]);
}

/**
 * Every tap agentbox made in this network namespace (name and alias both agentbox's).
 *
 * @example
 * ```ts
 * import { listTaps } from "./tap_device.ts";
 * console.log(await listTaps());
 * ```
 */
export async function listTaps(): Promise<TapDevice[]> {
  const links = JSON.parse(await runIp(["-j", "link", "show"]) || "[]") as {
    ifname: string;
    ifalias?: string;
  }[];
  return links.flatMap((link) => {
    if (!link.ifalias?.startsWith(ALIAS_PREFIX)) return [];
    const sessionId = link.ifalias.slice(ALIAS_PREFIX.length);
    try {
      return tapName(sessionId) === link.ifname ? [{ ifname: link.ifname, sessionId }] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The guest's address on session `sessionId`'s tap (the address after the gateway in its /30),
 * or `undefined` when the session has no tap here.
 *
 * @example
 * ```ts
 * import { tapGuestAddress } from "./tap_device.ts";
 * declare const sessionId: string;
 * console.log(await tapGuestAddress(sessionId)); // e.g. 10.213.0.2
 * ```
 */
export async function tapGuestAddress(sessionId: string): Promise<string | undefined> {
  const ifname = tapName(sessionId);
  if (!(await listTaps()).some((tap) => tap.ifname === ifname)) return undefined;
  const [link] = JSON.parse(await runIp(["-j", "-4", "address", "show", "dev", ifname])) as {
    addr_info?: { local: string }[];
  }[];
  const gateway = link?.addr_info?.[0]?.local;
  if (!gateway) return undefined;
  const octets = gateway.split(".").map(Number);
  return [...octets.slice(0, 3), octets[3] + 1].join(".");
}

/**
 * The IPv4 networks in use here (`address/prefix` of every address and route), for choosing a
 * subnet no one else uses.
 *
 * @example
 * ```ts
 * import { usedIpv4Networks } from "./tap_device.ts";
 * console.log(await usedIpv4Networks()); // ["127.0.0.1/8", "10.213.0.1/30", ...]
 * ```
 */
export async function usedIpv4Networks(): Promise<string[]> {
  const addresses = JSON.parse(await runIp(["-j", "-4", "address", "show"]) || "[]") as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  const routes = JSON.parse(await runIp(["-j", "-4", "route", "show", "table", "all"]) || "[]") as {
    dst: string;
  }[];
  return [
    ...addresses.flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`)),
    ...routes.map((r) => r.dst).filter((dst) => dst !== "default" && /^[\d.]+(\/\d+)?$/.test(dst)),
  ];
}

async function runIp(args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ip", {
      args,
      env: helperEnv(),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new TapError(`Cannot run ip: ${(error as Error).message}; install iproute2`);
  }
  if (!out.success) {
    const reason = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new TapError(`ip ${args.join(" ")} failed: ${reason || `exit ${out.code}`}`);
  }
  return new TextDecoder().decode(out.stdout);
}
