/**
 * `manifest.json`: what an image is made of, and the checks that tell a usable image from a
 * missing, damaged or stale one.
 *
 * @module
 */

import { join } from "node:path";
import { PROTOCOL_VERSION, USER_NAME_PATTERN } from "@agentbox/protocol";
import { ImageError } from "./errors.ts";
import { sha256File } from "./hash.ts";

/** Version of the manifest layout itself; bumped on incompatible changes. */
export const MANIFEST_FORMAT = 1;

/** The three artifacts of an image, as named in its directory. */
export const IMAGE_FILES = ["vmlinuz", "initrd.img", "rootfs.erofs"] as const;

/** One artifact of an image. */
export type ImageFileName = typeof IMAGE_FILES[number];

/** Size and digest of one file. */
export interface FileDigest {
  size: number;
  sha256: string;
}

/** One Debian package whose files are in the image. */
export interface DebianPackage {
  name: string;
  version: string;
  /**
   * Digest of the `.deb` as published in the archive's index (verified before use). Absent when
   * the build no longer had the file to hash.
   */
  sha256?: string;
}

/** The user commands run as in an image unless told otherwise (see `exec.start`'s `user`). */
export interface ImageUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** A package installed with npm into an image (the dev image's agent CLIs). */
export interface NpmPackage {
  name: string;
  version: string;
}

/** The content of `manifest.json`. */
export interface ImageManifest {
  format: number;
  name: string;
  /** ISO 8601 time of the build. */
  created: string;
  /** Kernel release (`uname -r` in the guest) and the Debian package it came from. */
  kernel: { release: string; package: string };
  /** Kernel modules the initrd loads, in load order. */
  modules: string[];
  /** Debian packages that contributed files, sorted by name. */
  packages: DebianPackage[];
  files: Record<ImageFileName, FileDigest>;
  deno: { version: string; sha256: string };
  /** The bundle's path and digest; `sourceSha256` digests its source (image/agent_source.ts). */
  agent: { path: string; sha256: string; sourceSha256?: string };
  protocolVersion: number;
  /** The profile the image was built from (image/profiles.ts); absent in older manifests: `default`. */
  profile?: string;
  /** The default user of commands; absent: root. */
  user?: ImageUser;
  /** Packages installed globally with npm. */
  npm?: NpmPackage[];
}

/**
 * Read and shape-check `<dir>/manifest.json`.
 *
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * const manifest = await readManifest("/root/.local/share/agentbox/images/default");
 * console.log(manifest.kernel.release);
 * ```
 */
export async function readManifest(dir: string): Promise<ImageManifest> {
  const path = join(dir, "manifest.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ImageError(`Cannot read ${path}`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ImageError(`Cannot parse ${path}`, { cause });
  }
  return parseManifest(value, path);
}

/**
 * Check that `value` has the shape of an {@link ImageManifest}; `source` names it in errors.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * parseManifest({ format: 1 }, "test"); // throws ImageError: test is not a valid image manifest …
 * ```
 */
export function parseManifest(value: unknown, source: string): ImageManifest {
  const problem = manifestProblem(value);
  if (problem) throw new ImageError(`${source} is not a valid image manifest: ${problem}`);
  return value as ImageManifest;
}

function manifestProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return "not an object";
  if (value.format !== MANIFEST_FORMAT) {
    return `format ${value.format} is not ${MANIFEST_FORMAT}`;
  }
  for (const key of ["name", "created"]) {
    if (typeof value[key] !== "string") return `${key} is not a string`;
  }
  if (typeof value.protocolVersion !== "number") return "protocolVersion is not a number";
  if (!isRecord(value.kernel) || typeof value.kernel.release !== "string") {
    return "kernel.release is missing";
  }
  if (!Array.isArray(value.modules)) return "modules is not a list";
  if (!Array.isArray(value.packages)) return "packages is not a list";
  if (!isRecord(value.deno) || !isRecord(value.agent)) return "deno or agent is missing";
  if (!isRecord(value.files)) return "files is missing";
  if (value.user !== undefined) {
    const user = value.user;
    if (
      !isRecord(user) || typeof user.name !== "string" || !USER_NAME_PATTERN.test(user.name) ||
      !isId(user.uid) || !isId(user.gid) ||
      typeof user.home !== "string"
    ) {
      return "user is not a name, uid, gid and home";
    }
  }
  for (const name of IMAGE_FILES) {
    const digest = value.files[name];
    if (!isRecord(digest) || typeof digest.size !== "number" || !isSha256(digest.sha256)) {
      return `files.${name} is not a size and sha256`;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isId(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 2 ** 32;
}

function isSha256(value: unknown): boolean {
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
}

/**
 * Cheap check, done before every boot: the files exist with the recorded sizes and the image
 * speaks this build's protocol version. Throws {@link ImageError} saying how to fix it.
 *
 * @example
 * ```ts
 * import { checkImage, readManifest } from "./manifest.ts";
 * const dir = "/root/.local/share/agentbox/images/default";
 * await checkImage(dir, await readManifest(dir));
 * ```
 */
export async function checkImage(dir: string, manifest: ImageManifest): Promise<void> {
  const rebuild = rebuildHint(manifest.name);
  if (manifest.protocolVersion !== PROTOCOL_VERSION) {
    throw new ImageError(
      `Image "${manifest.name}" speaks protocol ${manifest.protocolVersion}, this agentbox ` +
        `speaks ${PROTOCOL_VERSION}: ${rebuild}`,
    );
  }
  for (const name of IMAGE_FILES) {
    const path = join(dir, name);
    const size = await Deno.stat(path).then((s) => s.size, () => undefined);
    if (size === undefined) throw new ImageError(`Image file ${path} is missing: ${rebuild}`);
    if (size !== manifest.files[name].size) {
      throw new ImageError(
        `Image file ${path} has ${size} bytes, the manifest says ` +
          `${manifest.files[name].size}: ${rebuild}`,
      );
    }
  }
}

/**
 * Full check: {@link checkImage} plus the SHA-256 of every file. Reads the whole image.
 *
 * @example
 * ```ts
 * import { readManifest, verifyImage } from "./manifest.ts";
 * const dir = "/root/.local/share/agentbox/images/default";
 * await verifyImage(dir, await readManifest(dir));
 * ```
 */
export async function verifyImage(dir: string, manifest: ImageManifest): Promise<void> {
  await checkImage(dir, manifest);
  for (const name of IMAGE_FILES) {
    const path = join(dir, name);
    const digest = await sha256File(path);
    if (digest !== manifest.files[name].sha256) {
      throw new ImageError(
        `Image file ${path} does not match its manifest (sha256 ${digest}): ` +
          rebuildHint(manifest.name),
      );
    }
  }
}

/**
 * The sentence that tells the user how to (re)build image `name`.
 *
 * @example
 * ```ts
 * import { rebuildHint } from "./manifest.ts";
 * rebuildHint("default"); // "run `agentbox images build`"
 * ```
 */
export function rebuildHint(name: string): string {
  return name === "default"
    ? "run `agentbox images build`"
    : `run \`agentbox images build ${name}\``;
}
