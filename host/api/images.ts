/**
 * Guest images as core operations: build one (and its template snapshot), list them as data,
 * remove them. The builder itself is the `image/` mechanism; this module decides what a build
 * request means (profile, agent CLIs) and what the caller is told (events, a report).
 *
 * @module
 */

import { buildImage } from "../../image/build.ts";
import { removeOwnStagingsSync, removeStaleBuilds } from "../../image/build_staging.ts";
import { ImageError } from "../../image/errors.ts";
import { profileFor, PROFILES } from "../../image/profiles.ts";
import {
  DEFAULT_IMAGE,
  findImage,
  imagesDir,
  listImages,
  removeImage,
  validateImageName,
} from "../../image/store.ts";
import { AGENT_PRESETS } from "../config/agent_presets.ts";
import { emptyPolicy } from "../config/policy.ts";
import { startEgress } from "../egress/egress.ts";
import { resolveNetBackend } from "../net/net_backend.ts";
import { findRelay, NO_RELAY_KEY, proxyNetwork } from "../net/user_network.ts";
import type { VmNetwork } from "../vm/spec.ts";
import { prepareDefaultTemplate, removeTemplates, templatesEnabled } from "../vm/template.ts";
import type { EventSink } from "./events.ts";
import { npmInstallInVm } from "./npm_install.ts";

export { DEFAULT_IMAGE };

/** The profiles an image can be built with: name and one line on what it holds. */
export const IMAGE_PROFILES: readonly { name: string; summary: string }[] = Object.values(PROFILES)
  .map(({ name, summary }) => ({ name, summary }));

/** The agent CLIs `--agents` can install. */
export const AGENT_NAMES: readonly string[] = Object.keys(AGENT_PRESETS);

/** What to build. */
export interface ImageBuildRequest {
  /** Default {@linkcode DEFAULT_IMAGE}. */
  name?: string;
  /** A profile name (image/profiles.ts); default: the one named like the image, else "default". */
  profile?: string;
  /** Agent CLIs to install with npm in a VM of the new image (keys of the agent presets). */
  agents?: string[];
}

/** What a build made. */
export interface ImageBuildReport {
  name: string;
  profile: string;
  seconds: number;
  kernel: string;
  deno: string;
  packages: number;
  /** The user commands run as, when the image names one. */
  user?: string;
  /** The template snapshot sandboxes start from: made, skipped (disabled), or why not. */
  template:
    | { state: "made"; seconds: number }
    | { state: "skipped" }
    | { state: "failed"; reason: string };
}

/**
 * Build (or rebuild) an image, then its template snapshot. A template that cannot be made is not
 * a failure (sandboxes boot cold, or make it on first use): the report says why.
 *
 * @example
 * ```ts
 * import { buildImageAndTemplate } from "./images.ts";
 * const report = await buildImageAndTemplate({ name: "dev" }, (e) => console.error(e.message));
 * ```
 */
export async function buildImageAndTemplate(
  request: ImageBuildRequest,
  onEvent: EventSink,
): Promise<ImageBuildReport> {
  const name = request.name ?? DEFAULT_IMAGE;
  // Everything the request can get wrong is refused here, before a package is fetched.
  validateImageName(name);
  const profile = profileFor(request.profile, name);
  const npmPackages = agentPackages(request.agents ?? []);
  if (npmPackages.length > 0 && !profile.npm) {
    throw new ImageError(
      `--agents needs a profile with Node.js, and "${profile.name}" has none: ` +
        `use \`agentbox images build dev --agents ${request.agents!.join(",")}\``,
      { kind: "usage", code: "image_agents_need_npm" },
    );
  }
  const started = performance.now();
  const manifest = await buildImage({
    name,
    profile,
    npmPackages,
    imagesDir: imagesDir(),
    onProgress: (step, detail) =>
      onEvent({ type: "progress", message: `${step}${detail ? ` (${detail})` : ""}…` }),
    onStepProgress: (p) =>
      onEvent({ type: "step-progress", message: p.label, fraction: p.fraction }),
    onWarning: (message) => onEvent({ type: "warning", message }),
    installNpm: npmInstallInVm,
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    profile: profile.name,
    seconds,
    kernel: manifest.kernel.release,
    deno: manifest.deno.version,
    packages: manifest.packages.length,
    user: manifest.user?.name,
    template: templatesEnabled() ? await buildTemplate(name, onEvent) : { state: "skipped" },
  };
}

/**
 * `["claude", "codex"]` → their npm packages; an unknown name is an {@linkcode ImageError}.
 *
 * @example
 * ```ts
 * import { agentPackages } from "./images.ts";
 * console.assert(agentPackages([]).length === 0);
 * ```
 */
export function agentPackages(names: string[]): string[] {
  return names.map((name) => {
    const preset = Object.hasOwn(AGENT_PRESETS, name) ? AGENT_PRESETS[name] : undefined;
    if (!preset?.npmPackage) {
      throw new ImageError(
        `Unknown agent "${name}" in --agents: use ${Object.keys(AGENT_PRESETS).join(", ")}`,
        { kind: "usage", code: "agent_unknown" },
      );
    }
    return preset.npmPackage;
  });
}

/** Boot the new image once and save the template snapshot `exec` and `run` start from. */
async function buildTemplate(
  name: string,
  onEvent: EventSink,
): Promise<ImageBuildReport["template"]> {
  onEvent({
    type: "progress",
    message: "Making the template snapshot (a booted VM that sandboxes start from)…",
  });
  const started = performance.now();
  try {
    const image = await findImage(name);
    await withDefaultNetwork((network) => prepareDefaultTemplate(image, network));
    return { state: "made", seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { state: "failed", reason: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Run `fn` with the guest network sandboxes get by default here: a tap where agentbox can make one
 * (made for the occasion, behind its wall, and removed after), else the user network.
 */
async function withDefaultNetwork<T>(fn: (network: VmNetwork) => Promise<T>): Promise<T> {
  if ((await resolveNetBackend("auto")) === "user") {
    return await fn(
      proxyNetwork(await findRelay(), {
        forwardPort: 1,
        transparentPort: 1,
        relayKey: NO_RELAY_KEY,
      }),
    );
  }
  const egress = await startEgress(
    { policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } },
    { backend: "tap", sessionId: crypto.randomUUID() },
  );
  try {
    return await fn(egress.network);
  } finally {
    await egress.close();
  }
}

/** One built image, as a list shows it. */
export type ImageSummary =
  | {
    name: string;
    status: "ok";
    profile: string;
    /** The user commands run as ("root" when the image names none). */
    user: string;
    kernel: string;
    bytes: number;
    created: string;
  }
  | { name: string; status: "broken"; error: string };

/** Where images live and what is there. */
export interface ImageList {
  dir: string;
  images: ImageSummary[];
}

/**
 * The built images, sorted by name; a directory whose manifest or files are wrong is listed as
 * broken with the reason.
 *
 * @example
 * ```ts
 * import { listImageSummaries } from "./images.ts";
 * for (const image of (await listImageSummaries()).images) console.log(image.name, image.status);
 * ```
 */
export async function listImageSummaries(): Promise<ImageList> {
  const images = (await listImages()).map((image): ImageSummary => {
    if ("error" in image) {
      return { name: image.name, status: "broken", error: image.error.message };
    }
    const { manifest } = image;
    return {
      name: image.name,
      status: "ok",
      profile: manifest.profile ?? "default",
      user: manifest.user?.name ?? "root",
      kernel: manifest.kernel.release,
      bytes: Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0),
      created: manifest.created,
    };
  });
  return { dir: imagesDir(), images };
}

/**
 * Remove images by name, in order, each with its template snapshots; stops at the first that does
 * not exist ({@linkcode ImageError}), reporting each removal as an event.
 *
 * @example
 * ```ts
 * import { removeImages } from "./images.ts";
 * await removeImages(["dev"], () => {});
 * ```
 */
export async function removeImages(names: string[], onEvent: EventSink): Promise<void> {
  for (const name of names) {
    await removeImage(name);
    await removeTemplates(name);
    onEvent({ type: "progress", message: `Removed image "${name}"` });
  }
}

/**
 * Remove what interrupted image builds and removals left in the images directory (staging
 * directories of killed builds, half-removed images); builds under way are left alone. Returns
 * the paths removed (with `dryRun`, those that would be). Every build does this first; `prune`
 * does too.
 *
 * @example
 * ```ts ignore
 * import { removeStaleImageBuilds } from "./images.ts";
 * console.log(await removeStaleImageBuilds());
 * ```
 */
export async function removeStaleImageBuilds(
  options: { dryRun?: boolean } = {},
): Promise<string[]> {
  return await removeStaleBuilds(imagesDir(), options);
}

/**
 * Remove the staging directories of the builds this process runs, at once and synchronously: for
 * a signal handler that exits right after (they are 100 MB or more each). Returns their paths.
 *
 * @example
 * ```ts ignore
 * import { stopImageBuildsNow } from "./images.ts";
 * Deno.addSignalListener("SIGTERM", () => {
 *   stopImageBuildsNow();
 *   Deno.exit(143);
 * });
 * ```
 */
export function stopImageBuildsNow(): string[] {
  return removeOwnStagingsSync();
}
