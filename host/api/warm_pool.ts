/**
 * A warm pool: VMs restored from the image's template snapshot ahead of time, warmed and held
 * paused, so that a one-shot sandbox (`agentbox exec` through `agentbox serve`) starts with a VM
 * that has already run. `agentbox serve` keeps one (`--pool N`); docs/serve.md, "Warm pool".
 *
 * Filling one: QEMU restores the template and resumes; its agent is greeted; the guest network is
 * configured for the network made with it (a tap's addresses are known up front, egress_link.ts);
 * `true` runs twice, so the code of an exec is already translated (under TCG, a fresh QEMU
 * translates the guest's code afresh: the first exec after a restore costs several times the
 * second, docs/benchmarks.md); then the VM is paused. Taking it resumes it and greets its agent
 * again on the same connection (`AgentClient.rehello`): the guest's clock, which stood still while
 * it was paused, and its random generator are set from that hello, as after any restore. Nothing
 * the warm-up ran is left (the commands ended; the agent drops its streams at the new hello), and
 * a warm VM is never handed out twice.
 *
 * What is pooled: the image the pool was started for, the default shape (CPUs, memory), QEMU, the
 * pool's network backend. A shared directory fits when its disks fit the template's placeholders:
 * taking the VM points its placeholder disks at the share's files (qemu/disk_swap.ts) before it
 * runs again, then mounts them. Anything else is not asked of the pool (see `startSandbox`'s
 * `warm`). When the image's build changes (`agentbox images build`), every warm
 * VM of the old build is discarded and the pool refills with the new one.
 *
 * @module
 */

import { findImage, type ImagePaths } from "../../image/store.ts";
import { delay } from "../delay.ts";
import { type EgressLink, prepareEgressLink } from "../egress/egress_link.ts";
import { type QemuSetup, qemuSetup } from "../vm/qemu/qemu_vm.ts";
import type { RunningVm } from "../vm/running_vm.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { imageDigest, startFromTemplate, templateShape } from "../vm/template.ts";
import { loadPolicy } from "../config/load_config.ts";
import { configureGuestNetwork } from "../vm/guest_network.ts";
import { runGuestSetup } from "../vm/guest_setup.ts";
import { type NetBackend, type NetBackendChoice, resolveNetBackend } from "../net/net_backend.ts";
import type { ApiContext } from "./context.ts";
import { VmError } from "../vm/errors.ts";
import { mountWorkspace, workspaceDisks, type WorkspaceFiles } from "../vm/workspace_disks.ts";

/** What a sandbox asks of the pool: its image and shape. */
export interface WarmShape {
  image: string;
  cpus: number;
  memoryMb: number;
  backend: NetBackend;
  /**
   * The session that will run on it, when its id is fixed already (a detached session's owner):
   * only a warm VM whose network was made for that id fits (a tap's lease and wall are keyed by
   * it).
   */
  sessionId?: string;
}

/** A warm VM taken from the pool: the caller's alone. */
export interface WarmVm {
  /** The user network it was started on; the taker's egress serves it (and closes it). */
  link: EgressLink;
  /**
   * Resume it and greet its agent again; its guest network is already configured for `link`.
   * With `workspace`, its placeholder disks are first pointed at the workspace's files (while it
   * is still paused) and the workspace is mounted once it runs. Throws `VmError` or `AgentError`
   * when it cannot (it is stopped then). (`options` is required so that a wrapper cannot drop the
   * workspace unnoticed.)
   */
  resume(options: { workspace?: WorkspaceFiles }): Promise<RunningVm>;
  /** Stop it unused and close its link (idempotent; nothing after `resume`). */
  discard(): Promise<void>;
}

/** Where warm VMs come from (a {@linkcode WarmPool}, or a test's). */
export interface WarmSource {
  /** A warm VM of `shape`, or `undefined` when none is ready. */
  claim(shape: WarmShape): Promise<WarmVm | undefined>;
}

/** What the pool holds and has done. */
export interface WarmPoolStats {
  image: string;
  /** The network backend its VMs are on. */
  backend: NetBackend;
  /** Warm VMs wanted. */
  size: number;
  /** Ready to be taken. */
  ready: number;
  /** Being restored. */
  filling: number;
  /** Handed out since the start. */
  taken: number;
  /** Asked for and not there (or not fitting). */
  misses: number;
  /** Thrown away unused: the image was rebuilt, or the VM died or grew old. */
  discarded: number;
  /** The image build the ready VMs belong to (`imageDigest`), null before the first. */
  build: string | null;
}

/** Options of {@linkcode WarmPool}. */
export interface WarmPoolOptions {
  /** Warm VMs to keep ready (0: the pool is off). */
  size: number;
  /** The image (default `default`). */
  image?: string;
  /**
   * The network backend of its VMs (default: the user's `network.backend` as a session resolves
   * it — `auto` is the tap network as root, the user network otherwise).
   */
  backend?: NetBackendChoice;
  /** How often the image's build is checked (default 2 s). */
  checkEveryMs?: number;
  /** A warm VM older than this is replaced by a fresh one (default 10 min). */
  maxAgeMs?: number;
  /**
   * How long after a take the pool waits before it refills (default
   * {@linkcode REFILL_DELAY_MS}): restoring and warming a VM is CPU work, which would otherwise
   * compete with the sandbox that was just handed a VM.
   */
  refillDelayMs?: number;
}

/** The default of `WarmPoolOptions.refillDelayMs`. */
export const REFILL_DELAY_MS = 3_000;

/** Waits between failed fills. */
const RETRY_MS = 5_000;

/** How long making (a cold boot) and loading a template may take before a fill gives up. */
const TEMPLATE_WAIT_MS = 300_000;

/** One warmed, paused VM: see {@linkcode prepareWarmVm}. */
export interface WarmEntry {
  build: string;
  shape: WarmShape;
  born: number;
  link: EgressLink;
  vm: RunningVm;
  /** Set when it died while waiting. */
  dead: boolean;
}

/** What each warm VM runs before it is paused: the exec path an `agentbox exec` takes. */
const WARM_UP = ["true"];
const WARM_UP_RUNS = 2;

/**
 * The pool. `start()` begins filling it in the background; `claim()` hands out a ready VM and
 * starts a replacement; `close()` stops every warm VM.
 *
 * @example
 * ```ts ignore
 * import { WarmPool } from "./warm_pool.ts";
 * const pool = new WarmPool(ctx, { size: 2 });
 * pool.start();
 * const warm = await pool.claim({ image: "default", cpus: 2, memoryMb: 1024 });
 * await pool.close();
 * ```
 */
export class WarmPool implements WarmSource {
  #ctx: ApiContext;
  #size: number;
  #image: string;
  #backend: NetBackend = "user";
  #backendChoice?: NetBackendChoice;
  #checkEveryMs: number;
  #maxAgeMs: number;
  #refillDelayMs: number;
  #lastTake = 0;
  #ready: WarmEntry[] = [];
  #filling = 0;
  #taken = 0;
  #misses = 0;
  #discarded = 0;
  #build: string | null = null;
  #closed = false;
  #wake = Promise.withResolvers<void>();
  #loop?: Promise<void>;
  #setup?: QemuSetup;

  constructor(ctx: ApiContext, options: WarmPoolOptions) {
    this.#ctx = ctx;
    this.#size = Math.max(0, Math.floor(options.size));
    this.#image = options.image ?? "default";
    this.#backendChoice = options.backend;
    this.#checkEveryMs = options.checkEveryMs ?? 2_000;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#refillDelayMs = options.refillDelayMs ?? REFILL_DELAY_MS;
  }

  /** Begin filling (and keep the pool filled) in the background. */
  start(): void {
    if (this.#size === 0 || this.#loop) return;
    this.#loop = this.#run();
  }

  /** What the pool holds and has done. */
  stats(): WarmPoolStats {
    return {
      image: this.#image,
      backend: this.#backend,
      size: this.#size,
      ready: this.#ready.length,
      filling: this.#filling,
      taken: this.#taken,
      misses: this.#misses,
      discarded: this.#discarded,
      build: this.#build,
    };
  }

  /**
   * A warm VM of `shape`, taken out of the pool (never handed out again), or `undefined` when
   * none is ready or the shape is not the pool's. A VM of an image build that is no longer the
   * image's is discarded, never handed out.
   */
  async claim(shape: WarmShape): Promise<WarmVm | undefined> {
    const fits = !this.#closed && shape.image === this.#image && shape.backend === this.#backend &&
      shape.cpus === VM_DEFAULTS.cpus && shape.memoryMb === VM_DEFAULTS.memoryMb &&
      shape.sessionId === undefined;
    if (!fits || this.#ready.length === 0) {
      this.#misses++;
      return undefined;
    }
    const build = await this.#currentBuild().catch(() => undefined);
    if (build !== this.#build) this.#discardAll();
    const entry = this.#ready.shift();
    if (!entry) {
      this.#misses++;
      this.#wake.resolve();
      return undefined;
    }
    this.#taken++;
    this.#lastTake = Date.now();
    this.#wake.resolve();
    return handOut(entry);
  }

  /** Stop filling and stop every warm VM. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake.resolve();
    await this.#loop;
    await Promise.all(this.#ready.splice(0).map((entry) => stopWarm(entry)));
  }

  async #run(): Promise<void> {
    try {
      const choice = this.#backendChoice ?? (await loadPolicy()).backend;
      this.#backend = await resolveNetBackend(choice);
    } catch (error) {
      this.#ctx.onEvent({
        type: "warning",
        message: `warm pool: ${(error as Error).message}: its VMs use the user network`,
      });
    }
    let lastCheck = 0;
    while (!this.#closed) {
      try {
        if (Date.now() - lastCheck >= this.#checkEveryMs) {
          lastCheck = Date.now();
          const build = await this.#currentBuild();
          if (build !== this.#build) {
            this.#discardAll();
            this.#build = build;
          }
          this.#dropStale();
        }
        const calm = Date.now() - this.#lastTake;
        if (this.#ready.length + this.#filling < this.#size && calm < this.#refillDelayMs) {
          await this.#sleep(this.#refillDelayMs - calm);
          continue;
        }
        if (this.#ready.length + this.#filling < this.#size) {
          await this.#fillOne();
          continue;
        }
      } catch (error) {
        this.#ctx.onEvent({
          type: "warning",
          message: `warm pool: cannot restore a VM of image "${this.#image}": ${
            (error as Error).message
          }`,
        });
        await this.#sleep(RETRY_MS);
        continue;
      }
      await this.#sleep(this.#checkEveryMs);
    }
  }

  /** Restore one VM up to its first `cont` and put it in the pool. */
  async #fillOne(): Promise<void> {
    const image = await findImage(this.#image);
    const build = imageDigest(image);
    this.#filling++;
    try {
      this.#setup ??= await qemuSetup();
      const entry = await prepareWarmVm(this.#ctx, image, this.#backend, { setup: this.#setup });
      if (this.#closed || build !== this.#build) {
        await stopWarm(entry);
        return;
      }
      this.#ready.push(entry);
      entry.vm.exited.then(() => {
        // It died while it waited: it is no longer ready.
        entry.dead = true;
        const at = this.#ready.indexOf(entry);
        if (at >= 0) {
          this.#ready.splice(at, 1);
          this.#discarded++;
          this.#wake.resolve();
        }
      });
    } finally {
      this.#filling--;
    }
  }

  #discardAll(): void {
    for (const entry of this.#ready.splice(0)) {
      this.#discarded++;
      stopWarm(entry).catch(() => {});
    }
  }

  #dropStale(): void {
    const now = Date.now();
    for (const entry of [...this.#ready]) {
      if (now - entry.born < this.#maxAgeMs && !entry.dead) continue;
      this.#ready.splice(this.#ready.indexOf(entry), 1);
      this.#discarded++;
      stopWarm(entry).catch(() => {});
    }
  }

  async #currentBuild(): Promise<string> {
    return imageDigest(await findImage(this.#image));
  }

  async #sleep(ms: number): Promise<void> {
    await Promise.race([delay(ms), this.#wake.promise]);
    this.#wake = Promise.withResolvers<void>();
  }
}

/** Options of {@linkcode prepareWarmVm}. */
export interface PrepareWarmOptions {
  /** QEMU's setup (default: found now). */
  setup?: QemuSetup;
  /** The session id its network is made for (default: a new one; see `WarmShape.sessionId`). */
  sessionId?: string;
}

/**
 * Restore one VM of `image` from its template (made first if missing) on a new `backend`
 * network, warm it up and pause it: see the module's doc. Throws what the restore or the
 * warm-up threw (nothing is left running then).
 *
 * @example
 * ```ts ignore
 * import { prepareWarmVm, handOut } from "./warm_pool.ts";
 * const entry = await prepareWarmVm(ctx, image, "user");
 * const vm = await handOut(entry).resume({});
 * ```
 */
export async function prepareWarmVm(
  ctx: ApiContext,
  image: ImagePaths,
  backend: NetBackend,
  options: PrepareWarmOptions = {},
): Promise<WarmEntry> {
  const setup = options.setup ?? await qemuSetup();
  if (setup.channel !== "serial") {
    throw new Error("warm VMs need the virtio-serial agent channel; this host has vsock");
  }
  const link = await prepareEgressLink(backend, options.sessionId);
  let vm: RunningVm | undefined;
  try {
    const shape = templateShape(image, { network: link.network });
    // The template restore everyone uses (made first if missing).
    const restoring = startFromTemplate(image, shape, {
      setup,
      bootTimeoutMs: 2 * VM_DEFAULTS.bootTimeoutMs,
      kvmWarning: false,
      onWarning: (message) => ctx.onEvent({ type: "warning", message }),
    });
    vm = await within(restoring, TEMPLATE_WAIT_MS, "its state did not load in time")
      .catch(async (error) => {
        await restoring.then((late) => late?.stop(), () => {});
        throw error;
      });
    if (!vm) throw new Error("no template snapshot could be made or restored");
    if (link.network.kind === "tap") await configureGuestNetwork(vm.agent, link.network);
    for (let i = 0; i < WARM_UP_RUNS; i++) {
      await runGuestSetup(vm.agent, WARM_UP, "warm the VM up");
    }
    await vm.pause();
    return {
      build: imageDigest(image),
      shape: { image: image.name, cpus: shape.cpus, memoryMb: shape.memoryMb, backend },
      born: Date.now(),
      link,
      vm,
      dead: false,
    };
  } catch (error) {
    await vm?.stop();
    await link.close();
    throw error;
  }
}

/** `entry` as the {@linkcode WarmVm} its taker resumes or discards. */
export function handOut(entry: WarmEntry): WarmVm {
  let resumed = false;
  let discarded: Promise<void> | undefined;
  return {
    link: entry.link,
    resume: async (options) => {
      resumed = true;
      try {
        const { workspace } = options;
        if (workspace) {
          // While it is paused: its guest has not mounted the placeholders (workspace_disks.ts).
          if (!entry.vm.swapDisks) throw new VmError("This VM cannot take other disks");
          await entry.vm.swapDisks(workspaceDisks(workspace));
        }
        await entry.vm.resume();
        await entry.vm.agent.rehello();
        if (workspace) await mountWorkspace(entry.vm.agent, workspace.lowerLayers);
        return entry.vm;
      } catch (error) {
        await entry.vm.stop();
        throw error;
      }
    },
    discard: () => {
      if (resumed) return Promise.resolve();
      discarded ??= stopWarm(entry);
      return discarded;
    },
  };
}

/** A source of one warm VM: {@linkcode singleWarmSource}. */
export interface OneWarmVm extends WarmSource {
  /** Stop the VM if nobody took it (idempotent). */
  release(): Promise<void>;
}

/**
 * A {@linkcode WarmSource} of one warm VM (a standby session owner's own: api/standby.ts): it
 * hands `entry` out once, to a shape that fits it. `release()` stops it if nobody took it.
 */
export function singleWarmSource(entry: WarmEntry): OneWarmVm {
  let taken = false;
  return {
    // deno-lint-ignore require-await
    async claim(shape) {
      const fits = !taken && !entry.dead && shape.image === entry.shape.image &&
        shape.backend === entry.shape.backend && shape.cpus === entry.shape.cpus &&
        shape.memoryMb === entry.shape.memoryMb &&
        (shape.sessionId === undefined || shape.sessionId === entry.link.sessionId);
      if (!fits) return undefined;
      taken = true;
      return handOut(entry);
    },
    release: () => taken ? Promise.resolve() : (taken = true, stopWarm(entry)),
  };
}

/** Stop a warm VM that was never resumed, and close its network. */
export async function stopWarm(entry: WarmEntry): Promise<void> {
  await entry.vm.stop();
  await entry.link.close();
}

/** `promise`, or a rejection with `message` when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
