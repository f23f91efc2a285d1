/**
 * The Node.js version a project asks for (`.nvmrc`, else `.node-version`, in the shared project
 * directory) against the image's own `node` (its Debian `nodejs` package): agentbox installs no
 * other Node, so when the majors differ — or the request cannot be checked — the user is told once
 * at start, with how to get the one asked for, instead of a silently different version.
 * docs/agents.md ("The agents' Node apart from the project's") is the user's view.
 *
 * @module
 */

import { join } from "node:path";
import type { ImageManifest } from "../../image/manifest.ts";

/** The files read, in order: the first one present counts. */
export const NODE_VERSION_FILES = [".nvmrc", ".node-version"] as const;

/** The most of such a file that is read. */
const MAX_READ_BYTES = 4096;

/** nvm's LTS code names and their majors (`lts/iron`). */
const LTS_MAJORS: Readonly<Record<string, number>> = {
  argon: 4,
  boron: 6,
  carbon: 8,
  dubnium: 10,
  erbium: 12,
  fermium: 14,
  gallium: 16,
  hydrogen: 18,
  iron: 20,
  jod: 22,
  krypton: 24,
};

/** What a project asks for. */
export interface RequestedNode {
  /** The file it is written in (`.nvmrc`). */
  file: string;
  /** The request as written, when it is a plain word (shown to the user); else undefined. */
  spec?: string;
  /** The major version asked for, when the request names one. */
  major?: number;
}

/**
 * The version `text` (a `.nvmrc` or `.node-version`) asks for: its first line that is not empty
 * or a comment. A plain version (`20`, `v20.11.1`) or `lts/<name>` gives a major; an alias
 * (`lts/*`, `node`) none; anything else is not shown (it is the project's text).
 *
 * @example
 * ```ts
 * import { parseNodeVersion } from "./node_version.ts";
 * parseNodeVersion(".nvmrc", "v20.11.1\n"); // { file: ".nvmrc", spec: "v20.11.1", major: 20 }
 * parseNodeVersion(".nvmrc", "lts/iron").major; // 20
 * parseNodeVersion(".nvmrc", "lts/*").major; // undefined
 * ```
 */
export function parseNodeVersion(file: string, text: string): RequestedNode {
  const line = text.split(/\r?\n/).map((l) => l.replace(/#.*/, "").trim()).find(Boolean) ?? "";
  if (!/^[A-Za-z0-9._/*-]{1,40}$/.test(line)) return { file };
  const plain = /^v?(\d{1,3})(\.(\d+|x|\*)){0,2}$/.exec(line);
  if (plain) return { file, spec: line, major: Number(plain[1]) };
  const lts = /^lts\/([a-z]+)$/.exec(line.toLowerCase());
  if (lts && Object.hasOwn(LTS_MAJORS, lts[1])) {
    return { file, spec: line, major: LTS_MAJORS[lts[1]] };
  }
  return { file, spec: line };
}

/**
 * What the project in `dir` asks for, if it has a `.nvmrc` or `.node-version` (regular files;
 * the first 4 KiB are read).
 *
 * @example
 * ```ts ignore
 * import { requestedNode } from "./node_version.ts";
 * const requested = await requestedNode("/src/app");
 * ```
 */
export async function requestedNode(dir: string): Promise<RequestedNode | undefined> {
  for (const file of NODE_VERSION_FILES) {
    const path = join(dir, file);
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info?.isFile) continue;
    using handle = await Deno.open(path, { read: true });
    const buffer = new Uint8Array(MAX_READ_BYTES);
    const read = (await handle.read(buffer)) ?? 0;
    return parseNodeVersion(file, new TextDecoder().decode(buffer.subarray(0, read)));
  }
  return undefined;
}

/**
 * The image's `node` version (its Debian `nodejs` package's upstream version), if it has one.
 *
 * @example
 * ```ts
 * import { imageNodeVersion } from "./node_version.ts";
 * imageNodeVersion({ packages: [{ name: "nodejs", version: "18.20.4+dfsg-1~deb12u3", sha256: "" }] });
 * // "18.20.4"
 * ```
 */
export function imageNodeVersion(manifest: Pick<ImageManifest, "packages">): string | undefined {
  const version = manifest.packages.find((p) => p.name === "nodejs")?.version;
  return version && /^(?:\d+:)?(\d+(?:\.\d+)*)/.exec(version)?.[1];
}

/**
 * The warning for a project asking for `requested` in image `image` (its node `version`), or
 * undefined when the image's major is the one asked for.
 *
 * @example
 * ```ts
 * import { nodeVersionWarning } from "./node_version.ts";
 * nodeVersionWarning({ file: ".nvmrc", spec: "20", major: 20 }, "dev", "18.20.4");
 * // ".nvmrc asks for Node 20; the dev image's node is 18.20.4 and the project's commands get …"
 * nodeVersionWarning({ file: ".nvmrc", spec: "18", major: 18 }, "dev", "18.20.4"); // undefined
 * ```
 */
export function nodeVersionWarning(
  requested: RequestedNode,
  image: string,
  version: string | undefined,
): string | undefined {
  const major = version === undefined ? undefined : Number(version.split(".")[0]);
  if (requested.major !== undefined && requested.major === major) return undefined;
  const asked = requested.major !== undefined
    ? `Node ${requested.major}`
    : requested.spec !== undefined
    ? `Node "${requested.spec}" (agentbox cannot tell which version that is)`
    : "a Node version agentbox does not read";
  const have = version === undefined
    ? `the ${image} image has no node (the dev image has one)`
    : `the ${image} image's node is ${version} and the project's commands get that one`;
  const get = requested.major !== undefined ? `node@${requested.major}` : "node@<version>";
  return `${requested.file} asks for ${asked}; ${have}: agentbox installs no other Node — ` +
    `run the project with \`npx -y ${get} …\` or nvm in the sandbox (registry.npmjs.org or ` +
    `nodejs.org allowed), or build an image with it`;
}
