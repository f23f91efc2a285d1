/**
 * Standby session owners: detached session owners (`agentbox session-daemon ID --standby`) started
 * before anyone asks for their session. Each restores, warms and pauses one VM of the default
 * image on a network made for its session id (warm_pool.ts `prepareWarmVm`), then waits for its
 * plan. `agentbox serve --pool-sessions N` keeps N of them, so that a sandbox created through the
 * server (an SDK's create, `POST /v1/sandboxes`) starts on a VM that has already run — what the
 * warm pool does for `agentbox exec`, for sessions that outlive the server. The VM and its
 * network belong to the owner process from the start: nothing is handed between processes but
 * the plan (written aside and renamed into place, session_owner's `plan.json`).
 *
 * A standby owner that gets no plan within {@linkcode STANDBY_MAX_WAIT_MS} (or is sent SIGTERM)
 * stops its VM and exits, leaving nothing. A plan its VM does not fit (another image or shape,
 * ports, a share too large for the placeholders) boots as any detached session does; its warm VM is
 * stopped unused; a share that fits is swapped in (warm_pool.ts). Specs with
 * secrets never go to a standby owner: secrets travel in the owner's environment, fixed at spawn.
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { loadPolicy } from "../config/load_config.ts";
import { resolveNetBackend } from "../net/net_backend.ts";
import { type SessionPaths, sessionPaths } from "../session/session_paths.ts";
import { type SpawnedOwner, spawnOwner } from "../session/start_owner.ts";
import type { ApiContext } from "./context.ts";
import { type OneWarmVm, prepareWarmVm, REFILL_DELAY_MS, singleWarmSource } from "./warm_pool.ts";
import { delay } from "../delay.ts";
import { escapeControls } from "../terminal_text.ts";

/** How long a standby owner waits for its plan before it gives up and exits. */
export const STANDBY_MAX_WAIT_MS = 10 * 60_000;

/** How often a standby owner looks for its plan besides watching for it. */
const PLAN_LOOK_MS = 1_000;

/** The file a standby owner makes once its VM is warm and paused. */
export function standbyReadyPath(paths: SessionPaths): string {
  return `${paths.runtime}/standby.ready`;
}

/** What a standby owner holds once its plan is there: its warm VM, to pass to `ownSession`. */
export interface Standby {
  warm: OneWarmVm;
}

/**
 * The owner's side: warm a VM for session `id` and wait for its plan to appear at `paths.plan`.
 * Returns the warm VM once the plan is there, or `undefined` when `stopped` resolved or
 * `maxWaitMs` passed first (the VM is stopped then). Throws what warming threw.
 *
 * @example
 * ```ts ignore
 * import { standBy } from "./standby.ts";
 * const standby = await standBy(ctx, id, claim.paths, stopped);
 * if (standby) await ownSession(ctx, await claim.readPlan(), { paths, stopped, warm: standby.warm });
 * ```
 */
export async function standBy(
  ctx: ApiContext,
  id: string,
  paths: SessionPaths,
  stopped: Promise<void>,
  maxWaitMs = STANDBY_MAX_WAIT_MS,
): Promise<Standby | undefined> {
  const image = await findImage("default");
  const backend = await resolveNetBackend((await loadPolicy()).backend);
  const entry = await prepareWarmVm(ctx, image, backend, { sessionId: id });
  const source = singleWarmSource(entry);
  await Deno.writeTextFile(standbyReadyPath(paths), "", { mode: 0o600 });
  ctx.onEvent({ type: "progress", message: "standing by: a warm VM waits for its session" });
  // The plan is renamed into the runtime directory: watch it (and look now and then, in case an
  // event is missed), rather than polling fast.
  const watcher = Deno.watchFs(paths.runtime, { recursive: false });
  const events = watcher[Symbol.asyncIterator]();
  let stop = false;
  stopped.then(() => stop = true);
  entry.vm.exited.then(() => entry.dead = true);
  const deadline = Date.now() + maxWaitMs;
  try {
    while (!stop && !entry.dead && Date.now() < deadline) {
      if (await Deno.lstat(paths.plan).then(() => true, () => false)) return { warm: source };
      await Promise.race([events.next(), delay(PLAN_LOOK_MS), stopped, entry.vm.exited]);
    }
  } finally {
    watcher.close();
  }
  await source.release();
  return undefined;
}

/** Waits after a standby owner ended without a session before the next is started. */
const RETRY_MS = 5_000;

/** Options of {@linkcode StandbyOwners}. */
export interface StandbyOwnersOptions {
  /** Standby owners to keep (0: none). */
  size: number;
  /** How long after a take it waits before starting another (default: the warm pool's). */
  refillDelayMs?: number;
}

/** What {@linkcode StandbyOwners} holds and has done. */
export interface StandbyStats {
  size: number;
  /** Warm and waiting. */
  ready: number;
  /** Warming. */
  starting: number;
  /** Handed a session since the start. */
  taken: number;
}

interface Waiting {
  id: string;
  owner: SpawnedOwner;
  paths: SessionPaths;
  exited: boolean;
}

/**
 * The server's side: keeps `size` standby owners running; {@linkcode StandbyOwners.take} hands
 * one out (never twice); `close()` stops those not taken.
 *
 * @example
 * ```ts ignore
 * import { StandbyOwners } from "./standby.ts";
 * const standby = new StandbyOwners(ctx, { size: 1 });
 * standby.start();
 * const id = await standby.take(); // a session id whose owner waits for its plan, or undefined
 * await standby.close();
 * ```
 */
export class StandbyOwners {
  #ctx: ApiContext;
  #size: number;
  #refillDelayMs: number;
  #lastTake = 0;
  #waiting: Waiting[] = [];
  #taken = 0;
  #closed = false;
  #wake = Promise.withResolvers<void>();
  #loop?: Promise<void>;

  constructor(ctx: ApiContext, options: StandbyOwnersOptions) {
    this.#ctx = ctx;
    this.#size = Math.max(0, Math.floor(options.size));
    this.#refillDelayMs = options.refillDelayMs ?? REFILL_DELAY_MS;
  }

  /** Keep the standby owners running, in the background. */
  start(): void {
    if (this.#size === 0 || this.#loop) return;
    this.#loop = this.#run();
  }

  /** What is held and has been done. */
  async stats(): Promise<StandbyStats> {
    let ready = 0;
    for (const waiting of this.#waiting) if (await isReady(waiting)) ready++;
    return {
      size: this.#size,
      ready,
      starting: this.#waiting.length - ready,
      taken: this.#taken,
    };
  }

  /**
   * A standby owner whose VM is warm, taken out (its session id and process), or `undefined`
   * when none is ready. The caller hands it its plan (`handPlan`).
   */
  async take(): Promise<{ id: string; owner: SpawnedOwner } | undefined> {
    for (const waiting of this.#waiting) {
      if (waiting.exited || !(await isReady(waiting))) continue;
      this.#waiting.splice(this.#waiting.indexOf(waiting), 1);
      this.#taken++;
      this.#lastTake = Date.now();
      this.#wake.resolve();
      return { id: waiting.id, owner: waiting.owner };
    }
    return undefined;
  }

  /** Stop starting new ones and stop those not taken (they stop their VMs and exit). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake.resolve();
    await this.#loop;
    const left = this.#waiting.splice(0);
    for (const waiting of left) waiting.owner.kill("SIGTERM");
    await Promise.all(left.map((waiting) => waiting.owner.status));
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const ended = this.#waiting.filter((waiting) => waiting.exited);
      this.#waiting = this.#waiting.filter((waiting) => !waiting.exited);
      for (const waiting of ended) await this.#cleanUp(waiting);
      if (ended.length > 0) await Promise.race([delay(RETRY_MS), this.#wake.promise]);
      if (this.#closed) break;
      // As the warm pool: a new owner's VM would compete with the session just handed out.
      const calm = Date.now() - this.#lastTake;
      if (this.#waiting.length < this.#size && calm < this.#refillDelayMs) {
        await Promise.race([delay(this.#refillDelayMs - calm), this.#wake.promise]);
        this.#wake = Promise.withResolvers<void>();
        continue;
      }
      if (this.#waiting.length < this.#size) {
        const id = crypto.randomUUID();
        const owner = await spawnOwner(id, { cwd: "/", standby: true });
        const waiting: Waiting = { id, owner, paths: sessionPaths(id), exited: false };
        owner.status.then(() => {
          waiting.exited = true;
          this.#wake.resolve();
        });
        this.#waiting.push(waiting);
        continue;
      }
      await Promise.race([delay(2_000), this.#wake.promise]);
      this.#wake = Promise.withResolvers<void>();
    }
  }

  /** A standby owner that ended untaken: say why if it failed, and remove its directories. */
  async #cleanUp(waiting: Waiting): Promise<void> {
    const status = await waiting.owner.status;
    if (!status.success && !this.#closed) {
      const log = await Deno.readTextFile(waiting.paths.log).catch(() => "");
      const last = log.trimEnd().split("\n").at(-1) ?? "";
      this.#ctx.onEvent({
        type: "warning",
        message: `a standby session owner failed (exit status ${status.code}): ${
          escapeControls(last.slice(0, 300))
        }`,
      });
    }
    await Deno.remove(waiting.paths.state, { recursive: true }).catch(() => {});
    await Deno.remove(waiting.paths.runtime, { recursive: true }).catch(() => {});
  }
}

function isReady(waiting: Waiting): Promise<boolean> {
  return Deno.lstat(standbyReadyPath(waiting.paths)).then(() => true, () => false);
}
