/**
 * Debian packages through the host's own apt: resolve a dependency closure, download `.deb`s
 * into a cache (verified against the archive index's SHA-256), and extract them. Needs `apt-get`,
 * `apt-cache` and `dpkg-deb` on the host and current package lists (`apt-get update`); no root.
 *
 * @module
 */

import { join } from "node:path";
import { runCommand } from "./command.ts";
import { ImageError } from "./errors.ts";
import { sha256File } from "./hash.ts";

/** A `.deb` as the archive index describes it. */
export interface DebReference {
  /** File name `apt-get download` saves it under. */
  filename: string;
  size: number;
  sha256: string;
}

/** A downloaded, verified `.deb`. */
export interface DebFile extends DebReference {
  name: string;
  version: string;
  path: string;
}

const APT_OPTIONS = ["-q", "-o", "APT::Sandbox::User=root"];

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  try {
    return await runCommand(command, args, { cwd, missingHint: "install apt and dpkg" });
  } catch (error) {
    if (
      error instanceof ImageError &&
      /Unable to locate|no installation candidate/.test(error.message)
    ) {
      throw new ImageError(`${error.message}\n(run \`apt-get update\` first)`, { cause: error });
    }
    throw error;
  }
}

/**
 * Parse `apt-cache depends --recurse` output: the package names (unindented lines), without
 * virtual packages (`<name>`).
 *
 * @example
 * ```ts
 * import { parseAptCacheDepends } from "./debian.ts";
 * parseAptCacheDepends("curl\n  Depends: libc6\nlibc6\n  Depends: libgcc-s1\n<awk>\n");
 * // ["curl", "libc6"]
 * ```
 */
export function parseAptCacheDepends(text: string): string[] {
  const names = text.split("\n").filter((line) => line && !/^[\s<]/.test(line));
  return [...new Set(names)];
}

/**
 * `packages` plus everything they depend on (`Depends` and `Pre-Depends`), sorted.
 *
 * @example
 * ```ts
 * import { dependencyClosure } from "./debian.ts";
 * console.log(await dependencyClosure(["curl"])); // ["curl", "gcc-12-base", "libbrotli1", …]
 * ```
 */
export async function dependencyClosure(packages: string[]): Promise<string[]> {
  const flags = ["suggests", "recommends", "conflicts", "breaks", "replaces", "enhances"];
  const output = await run("apt-cache", [
    "depends",
    "--recurse",
    ...flags.map((flag) => `--no-${flag}`),
    "--",
    ...packages,
  ]);
  return parseAptCacheDepends(output).sort();
}

/**
 * The package a metapackage currently points at whose name matches `pattern`, e.g.
 * `linux-image-cloud-amd64` → `linux-image-6.1.0-56-cloud-amd64`.
 *
 * @example
 * ```ts
 * import { resolveMetapackage } from "./debian.ts";
 * await resolveMetapackage("linux-image-cloud-amd64", /^linux-image-\d/);
 * ```
 */
export async function resolveMetapackage(name: string, pattern: RegExp): Promise<string> {
  const output = await run("apt-cache", ["depends", "--", name]);
  for (const match of output.matchAll(/^\s+Depends: (\S+)$/gm)) {
    if (pattern.test(match[1])) return match[1];
  }
  throw new ImageError(`Debian package ${name} depends on no package matching ${pattern}`);
}

/**
 * Parse `apt-get download --print-uris` output.
 *
 * @example
 * ```ts
 * import { parsePrintUris } from "./debian.ts";
 * parsePrintUris("'http://deb.debian.org/a.deb' curl_7.88_amd64.deb 315764 SHA256:0dd9…\n");
 * ```
 */
export function parsePrintUris(text: string): DebReference[] {
  const result: DebReference[] = [];
  for (const line of text.split("\n")) {
    const match = /^'[^']+' (\S+\.deb) (\d+) SHA256:([0-9a-f]{64})$/.exec(line.trim());
    if (match) result.push({ filename: match[1], size: +match[2], sha256: match[3] });
  }
  return result;
}

/**
 * Download the candidate version of each package into `cacheDir` (files already there with the
 * right digest are reused) and return them verified, sorted by package name.
 *
 * @example
 * ```ts
 * import { downloadDebs } from "./debian.ts";
 * const debs = await downloadDebs(["busybox-static"], "/root/.cache/agentbox/debs");
 * console.log(debs[0].version, debs[0].sha256);
 * ```
 */
export async function downloadDebs(packages: string[], cacheDir: string): Promise<DebFile[]> {
  await Deno.mkdir(cacheDir, { recursive: true });
  // --print-uris leaves out files already in the working directory: ask from an empty one.
  const empty = await Deno.makeTempDir({ prefix: "agentbox-apt-" });
  let references: DebReference[];
  try {
    references = parsePrintUris(
      await run("apt-get", [...APT_OPTIONS, "download", "--print-uris", "--", ...packages], empty),
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
  if (references.length !== packages.length) {
    throw new ImageError(
      `apt-get found ${references.length} of ${packages.length} packages to download`,
    );
  }
  const valid = async (ref: DebReference) =>
    await sha256File(join(cacheDir, ref.filename)).then((d) => d === ref.sha256, () => false);
  const missing: string[] = [];
  for (const ref of references) {
    // Package names cannot contain "_", so the file name starts with "<name>_".
    if (!await valid(ref)) missing.push(ref.filename.slice(0, ref.filename.indexOf("_")));
  }
  if (missing.length) {
    await run("apt-get", [...APT_OPTIONS, "download", "--", ...missing], cacheDir);
  }
  const result: DebFile[] = [];
  for (const ref of references) {
    const path = join(cacheDir, ref.filename);
    if (!await valid(ref)) {
      throw new ImageError(`Downloaded ${ref.filename} does not match the archive's SHA-256`);
    }
    const fields = await run("dpkg-deb", ["--show", "--showformat=${Package}\\t${Version}", path]);
    const [name, version] = fields.trim().split("\t");
    result.push({ ...ref, name, version, path });
  }
  return result.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Extract a `.deb`'s files into `dir` (no maintainer scripts run).
 *
 * @example
 * ```ts
 * import { extractDeb } from "./debian.ts";
 * await extractDeb("/root/.cache/agentbox/debs/curl_7.88.1-10+deb12u15_amd64.deb", "/tmp/curl");
 * ```
 */
export async function extractDeb(deb: string, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await run("dpkg-deb", ["--extract", "--", deb, dir]);
}
