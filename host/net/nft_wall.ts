/**
 * The wall of a tap network: one nftables table per session, `inet agentbox_<session id>`,
 * loaded and removed with `nft` in JSON (never a rule text built from strings), and checked
 * after loading by listing it back.
 *
 * ```
 * prerouting (nat):  from the tap, 10.0.2.100:3128 → gateway:forward port
 *                    from the tap, TCP 80/443 to anywhere → gateway:transparent port
 * input (filter):    from the tap, replies to connections the host opened → accept
 *                    from the tap, TCP to gateway:{forward, transparent} → accept
 *                    from the tap, anything else (other ports, IPv6, UDP, ICMP) → count, drop
 *                    to the gateway from elsewhere but loopback (the LAN) → count, drop
 * forward (filter):  to or from the tap → count, drop (other VMs, the LAN, the internet)
 * ```
 *
 * A drop in any base chain is final whatever other tables say, so the wall holds beside the
 * host's own firewall; an accept here does not override a drop there.
 *
 * @module
 */

import { helperEnv } from "../helper_env.ts";
import { TapError } from "./tap_device.ts";
import { PROXY_GUEST_ADDRESS, PROXY_GUEST_PORT, TRANSPARENT_GUEST_PORTS } from "./user_network.ts";

/** What one session's wall is made of. */
export interface WallSpec {
  sessionId: string;
  /** The session's tap device. */
  ifname: string;
  /** The host's address on the tap, where the proxies listen. */
  gateway: string;
  forwardPort: number;
  transparentPort: number;
}

/** `nft` failed or did not load what it was given; the message says how to do without. */
export class NftError extends TapError {
  constructor(message: string) {
    super(message);
    this.name = "NftError";
  }
}

const TABLE_PREFIX = "agentbox_";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The table name of session `sessionId` (a UUID): `agentbox_` and the id with `_` for `-`.
 *
 * @example
 * ```ts
 * import { wallTableName } from "./nft_wall.ts";
 * console.assert(
 *   wallTableName("0123abcd-0000-4000-8000-000000000000") ===
 *     "agentbox_0123abcd_0000_4000_8000_000000000000",
 * );
 * ```
 */
export function wallTableName(sessionId: string): string {
  if (!UUID.test(sessionId)) throw new RangeError(`Invalid session id ${sessionId}`);
  return TABLE_PREFIX + sessionId.replaceAll("-", "_");
}

/**
 * The session id a table name carries, or `undefined` when agentbox did not make the table.
 *
 * @example
 * ```ts
 * import { wallSessionId } from "./nft_wall.ts";
 * console.assert(wallSessionId("filter") === undefined);
 * ```
 */
export function wallSessionId(table: string): string | undefined {
  if (!table.startsWith(TABLE_PREFIX)) return undefined;
  const id = table.slice(TABLE_PREFIX.length).replaceAll("_", "-");
  return UUID.test(id) ? id : undefined;
}

type Expr = Record<string, unknown>;
type Command = Record<string, unknown>;

/**
 * The `nft -j` commands that create the wall of `spec` (see the module comment).
 *
 * @example
 * ```ts
 * import { wallRuleset } from "./nft_wall.ts";
 * const ruleset = wallRuleset({
 *   sessionId: "0123abcd-0000-4000-8000-000000000000", ifname: "ab0123abcd0000",
 *   gateway: "10.213.0.1", forwardPort: 40000, transparentPort: 40001,
 * });
 * console.assert(ruleset.nftables.length > 5);
 * ```
 */
export function wallRuleset(spec: WallSpec): { nftables: Command[] } {
  const table = wallTableName(spec.sessionId);
  if (!/^[\w-]{1,15}$/.test(spec.ifname)) throw new RangeError(`Invalid tap ${spec.ifname}`);
  const fromTap = match({ meta: { key: "iifname" } }, spec.ifname);
  const tcpPort = (port: number | number[]) =>
    match(
      { payload: { protocol: "tcp", field: "dport" } },
      Array.isArray(port) ? { set: port } : port,
    );
  const dnat = (port: number) => ({ dnat: { family: "ip", addr: spec.gateway, port } });
  const chain = (name: string, type: string, hook: string, prio: number) => ({
    add: { chain: { family: "inet", table, name, type, hook, prio, policy: "accept" } },
  });
  const rule = (chainName: string, expr: Expr[]) => ({
    add: { rule: { family: "inet", table, chain: chainName, expr } },
  });
  const drop = [{ counter: null }, { drop: null }];
  return {
    nftables: [
      { add: { table: { family: "inet", name: table } } },
      chain("prerouting", "nat", "prerouting", -100),
      chain("input", "filter", "input", 0),
      chain("forward", "filter", "forward", 0),
      rule("prerouting", [
        fromTap,
        match({ payload: { protocol: "ip", field: "daddr" } }, PROXY_GUEST_ADDRESS),
        tcpPort(PROXY_GUEST_PORT),
        dnat(spec.forwardPort),
      ]),
      rule("prerouting", [
        fromTap,
        tcpPort([...TRANSPARENT_GUEST_PORTS]),
        dnat(spec.transparentPort),
      ]),
      rule("input", [
        fromTap,
        { match: { op: "in", left: { ct: { key: "state" } }, right: ["established", "related"] } },
        { accept: null },
      ]),
      rule("input", [
        fromTap,
        match({ payload: { protocol: "ip", field: "daddr" } }, spec.gateway),
        tcpPort([spec.forwardPort, spec.transparentPort]),
        { accept: null },
      ]),
      rule("input", [fromTap, ...drop]),
      // The proxies listen on the gateway address, which the LAN could route to.
      rule("input", [
        { match: { op: "!=", left: { meta: { key: "iifname" } }, right: spec.ifname } },
        { match: { op: "!=", left: { meta: { key: "iifname" } }, right: "lo" } },
        match({ payload: { protocol: "ip", field: "daddr" } }, spec.gateway),
        ...drop,
      ]),
      rule("forward", [fromTap, ...drop]),
      rule("forward", [match({ meta: { key: "oifname" } }, spec.ifname), ...drop]),
    ],
  };
}

function match(left: Expr, right: unknown): Expr {
  return { match: { op: "==", left, right } };
}

/**
 * Load the wall of `spec` in one transaction and check it by listing the table back. Throws
 * {@linkcode NftError} when `nft` refuses or the table is not what was asked for (nothing is left
 * loaded then).
 *
 * @example
 * ```ts
 * import { loadWall } from "./nft_wall.ts";
 * declare const sessionId: string, ifname: string;
 * declare const forwardPort: number, transparentPort: number;
 * await loadWall({ sessionId, ifname, gateway: "10.213.0.1", forwardPort, transparentPort });
 * ```
 */
export async function loadWall(spec: WallSpec): Promise<void> {
  const ruleset = wallRuleset(spec);
  await runNft(["-j", "-f", "-"], JSON.stringify(ruleset));
  const expectedRules = ruleset.nftables.filter((c) => "rule" in (c.add as object)).length;
  const loaded = await listTable(wallTableName(spec.sessionId)).catch(() => []);
  const rules = loaded.filter((item) => "rule" in item).length;
  if (rules !== expectedRules) {
    await removeWall(spec.sessionId).catch(() => {});
    throw new NftError(
      `The nftables wall did not load as asked (${rules} of ${expectedRules} rules): ` +
        `check \`nft list ruleset\` and that the kernel has nf_tables and nf_nat`,
    );
  }
}

/**
 * Remove the wall of session `sessionId`; a wall that is not there is not an error.
 *
 * @example
 * ```ts
 * import { removeWall } from "./nft_wall.ts";
 * declare const sessionId: string;
 * await removeWall(sessionId);
 * ```
 */
export async function removeWall(sessionId: string): Promise<void> {
  const table = { family: "inet", name: wallTableName(sessionId) };
  if (!(await listWalls()).includes(sessionId)) return;
  await runNft(["-j", "-f", "-"], JSON.stringify({ nftables: [{ delete: { table } }] }));
}

/**
 * The session ids of every wall loaded in this network namespace.
 *
 * @example
 * ```ts
 * import { listWalls } from "./nft_wall.ts";
 * console.log(await listWalls());
 * ```
 */
export async function listWalls(): Promise<string[]> {
  const items = await nftJson(["list", "tables", "inet"]);
  return items.flatMap((item) => {
    const table = item.table as { name?: string } | undefined;
    const id = table?.name ? wallSessionId(table.name) : undefined;
    return id ? [id] : [];
  });
}

/**
 * Packets the wall of session `sessionId` has dropped so far.
 *
 * @example
 * ```ts
 * import { wallDrops } from "./nft_wall.ts";
 * declare const sessionId: string;
 * console.log(await wallDrops(sessionId));
 * ```
 */
export async function wallDrops(sessionId: string): Promise<number> {
  const items = await listTable(wallTableName(sessionId));
  let packets = 0;
  for (const item of items) {
    const rule = item.rule as { expr?: Expr[] } | undefined;
    for (const expr of rule?.expr ?? []) {
      const counter = expr.counter as { packets?: number } | undefined;
      packets += counter?.packets ?? 0;
    }
  }
  return packets;
}

async function listTable(name: string): Promise<Expr[]> {
  return await nftJson(["list", "table", "inet", name]);
}

async function nftJson(args: string[]): Promise<Expr[]> {
  const out = await runNft(["-j", ...args]);
  const parsed = JSON.parse(out || '{"nftables":[]}') as { nftables?: Expr[] };
  return parsed.nftables ?? [];
}

/** Run `nft` with `args`, `input` on its stdin; its stdout, or {@linkcode NftError}. */
async function runNft(args: string[], input?: string): Promise<string> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nft", {
      args,
      env: helperEnv(),
      clearEnv: true,
      stdin: input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new NftError(`Cannot run nft: ${(error as Error).message}; install nftables`);
  }
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    const reason = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new NftError(`nft ${args.join(" ")} failed: ${reason || `exit ${out.code}`}`);
  }
  return new TextDecoder().decode(out.stdout);
}
