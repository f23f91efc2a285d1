/**
 * Install npm packages globally into an image under construction, inside a VM of that image: a
 * malicious install script runs as root in a guest that reaches nothing but agentbox's own egress
 * proxy, whose policy allows the npm registry and nothing else. The install target (the tree's
 * `usr/local`) is shared with the VM like a workspace — read-only image below, an overlay whose
 * upper layer is on the VM's own disk — and bind-mounted over the guest's `/usr/local`; what npm
 * wrote comes back through the workspace's changes stream (validated like any guest's changes) and
 * is applied to the tree with the workspace's apply (no symlink followed, no path escaping the
 * target). The guest trusts only the proxy's per-build CA, name-constrained to the registry; the
 * proxy verifies the registry against the host's trust store (TLS inspection), so a
 * TLS-intercepting egress in front of the build host works without its CA entering the VM.
 *
 * The dev image installs into `/opt/agentbox/agents` (its own Node included), apart from the
 * image's toolchain: the build then writes wrappers for the agent commands only (image/build.ts).
 *
 * @module
 */

import { join, posix } from "node:path";
import { emptyPolicy, type Policy } from "../config/policy.ts";
import { PRESETS } from "../config/presets.ts";
import { hostRule } from "../config/toml_values.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import { startEgress } from "../egress/egress.ts";
import type { Dialer } from "../net/dialer.ts";
import type { Resolver } from "../net/resolver.ts";
import type { RequestRecorder } from "../proxy/mod.ts";
import { installGuestFiles } from "../session/guest_files.ts";
import { startWorkspaceSession } from "../session/workspace_session.ts";
import { createTlsInspection } from "../tls/mod.ts";
import { bootVm } from "../vm/boot.ts";
import { applyChangeset } from "../workspace/apply.ts";
import { printable } from "../terminal_text.ts";
import { readUnder } from "../workspace/host_file.ts";
import { loadChangeset } from "../workspace/load_changeset.ts";
import { UPPER_DISK_DIR, WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import { ImageError } from "../../image/errors.ts";
import { packageName } from "../../image/npm_package.ts";
import type { NpmPackage } from "../../image/manifest.ts";
import type { StepProgress } from "../../image/progress.ts";
import type { ImagePaths } from "../../image/store.ts";

/** The hosts npm may reach during a build: the `npm` allowlist preset. */
export const NPM_BUILD_HOSTS: readonly string[] = PRESETS.npm;

/** Where npm installs global packages in the guest by default: the target is mounted there. */
export const NPM_GLOBAL_PREFIX = "/usr/local";

/** A command name npm links (`bin` of a package.json): a plain file name. */
const BIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The proxy's CA in the guest: a tmpfs file, never part of the image. */
const GUEST_BUILD_CA = "/tmp/agentbox-build-ca.crt";

/** npm's cache and temporary files: on the VM's disk, outside the overlay (not part of the diff). */
const GUEST_NPM_CACHE = `${UPPER_DISK_DIR}/npm-cache`;
const GUEST_NPM_TMP = `${UPPER_DISK_DIR}/npm-tmp`;

/** Output of a failed npm run kept for the error message. */
const OUTPUT_TAIL_BYTES = 4096;

/** Options of {@linkcode npmInstallInVm}. */
export interface NpmInstallOptions {
  onProgress?: (progress: StepProgress) => void;
  /** Called with user-facing warnings (software emulation). */
  onWarning?: (message: string) => void;
  /** Guest memory (default 2048 MiB: npm and Node under TCG want more than a session's 1 GiB). */
  memoryMb?: number;
  /** Time allowed for one package's `npm install` (default 60 min: TCG is slow). */
  timeoutMs?: number;
  /** Where the build keeps the share's state and images (default: a temporary directory). */
  workDir?: string;
  /** Test seams of the proxy: name resolution and dialling (map the registry to loopback). */
  resolver?: Resolver;
  dialer?: Dialer;
  /** Test seam: extra roots the proxy trusts for the registry's certificate. */
  testUpstreamCaCerts?: string[];
  /**
   * The guest path `target` is mounted at, npm's `--prefix` (default {@linkcode NPM_GLOBAL_PREFIX}).
   * Its `bin/` comes first on the install's PATH, so a Node installed there by an earlier package
   * runs the later ones' install scripts.
   */
  guestPrefix?: string;
}

/** A command npm linked for a package. */
export interface NpmBin {
  /** The command's name (a validated plain name). */
  name: string;
  /** An executable of its own (an ELF file), not a script for Node. */
  native: boolean;
}

/** One installed package: its version and the commands npm linked for it. */
export interface InstalledNpmPackage extends NpmPackage {
  bins: NpmBin[];
}

/** What one install did. */
export interface NpmInstallResult {
  packages: InstalledNpmPackage[];
  /** Requests the proxy saw, and the destinations it refused (`host:port`). */
  requests: number;
  refused: string[];
}

/**
 * `npm install --global PACKAGES` (one npm run per package, in order) in a VM booted from
 * `image` (which must have node and npm), with the guest's `/usr/local` being the host directory
 * `target`. The files npm made are in `target` when this returns. Throws {@linkcode ImageError}
 * when an install fails (with the tail of npm's output and what the proxy refused) or when the
 * guest's changes cannot be applied as they are.
 *
 * @example
 * ```ts
 * import { npmInstallInVm } from "./npm_install.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * declare const image: ImagePaths;
 * const { packages } = await npmInstallInVm(image, "/tmp/tree/usr/local", ["@openai/codex"]);
 * console.log(packages); // [{ name: "@openai/codex", version: "…" }]
 * ```
 */
export async function npmInstallInVm(
  image: ImagePaths,
  target: string,
  packages: string[],
  options: NpmInstallOptions = {},
): Promise<NpmInstallResult> {
  const names = packages.map(packageName);
  const prefix = options.guestPrefix ?? NPM_GLOBAL_PREFIX;
  if (!/^(\/[a-z0-9._-]+)+$/.test(prefix)) {
    throw new ImageError(`Invalid npm prefix "${prefix}": use an absolute path of plain names`);
  }
  const work = options.workDir ??
    await Deno.makeTempDir({ prefix: "agentbox-npm-install-" });
  const removeWork = options.workDir === undefined;
  const refused = new Set<string>();
  let requests = 0;
  const recorder: RequestRecorder = {
    begin(start) {
      if (start.decision === "deny") refused.add(`${start.host}:${start.port}`);
      return ++requests;
    },
    finish() {},
  };
  try {
    const policy = buildPolicy();
    const inspect = await createTlsInspection(policy, {
      testUpstreamCaCerts: options.testUpstreamCaCerts,
    });
    // QEMU user networking with restrict=on whatever the host could do: the guest reaches the
    // proxy's forwarded ports and nothing else, and no host state (tap, nftables) is made.
    const egress = await startEgress({
      policy,
      recorder,
      inspect,
      resolver: options.resolver,
      dialer: options.dialer,
    }, { backend: "user", sessionId: crypto.randomUUID() });
    try {
      const workspace = await startWorkspaceSession(target, join(work, "session"), {
        cacheDir: join(work, "shares"),
      });
      const vm = await bootVm({
        image,
        cpus: 2,
        memoryMb: options.memoryMb ?? 2048,
        network: egress.network,
        workspace: workspace.share,
        template: false,
        onWarning: options.onWarning,
      });
      try {
        await installGuestFiles(vm.agent, [
          { path: GUEST_BUILD_CA, contents: `${inspect.ca.certPem.trim()}\n`, mode: 0o644 },
        ]);
        await guestRun(vm.agent, "mount the install target", [
          "sh",
          "-c",
          `set -e; mkdir -p ${prefix}; mount --bind ${WORKSPACE_DIR} ${prefix}; ` +
          `mkdir -p ${GUEST_NPM_CACHE} ${GUEST_NPM_TMP}`,
        ], {});
        for (const spec of packages) {
          options.onProgress?.({ label: `installing ${spec} in a VM` });
          const proxy = egress.guestEnv.HTTPS_PROXY;
          await guestRun(vm.agent, `install ${spec} with npm`, npmArgv(spec, proxy, prefix), {
            env: {
              ...egress.guestEnv,
              PATH: `${prefix}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
              HOME: "/root",
              LANG: "C.UTF-8",
              NO_UPDATE_NOTIFIER: "1",
              npm_config_cache: GUEST_NPM_CACHE,
              TMPDIR: GUEST_NPM_TMP,
            },
            timeoutMs: options.timeoutMs ?? 60 * 60_000,
            refused,
          });
        }
        options.onProgress?.({ label: "collecting the installed files" });
        await workspace.collect(vm.agent);
      } finally {
        await vm.stop();
      }
    } finally {
      await egress.close();
    }
    options.onProgress?.({ label: "applying the installed files" });
    await applyInstalled(target, join(work, "session"));
    return {
      packages: await installedVersions(target, names),
      requests,
      refused: [...refused],
    };
  } finally {
    if (removeWork) await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** The build's policy: the npm registry only, inspected (the guest trusts the proxy's CA). */
function buildPolicy(): Policy {
  const policy = emptyPolicy();
  const loc = { file: "the image build" };
  policy.allow = NPM_BUILD_HOSTS.map((host) => hostRule(host, "npm registry", loc));
  policy.inspect.enabled = true;
  return policy;
}

/** One package's npm run in the guest, through the proxy at `proxy`. */
function npmArgv(spec: string, proxy: string, prefix: string): string[] {
  return [
    "npm",
    "install",
    "--global",
    `--prefix=${prefix}`,
    "--no-audit",
    "--no-fund",
    "--no-update-notifier",
    `--proxy=${proxy}`,
    `--https-proxy=${proxy}`,
    `--cafile=${GUEST_BUILD_CA}`,
    // A refused or failing registry should end the build soon, not after minutes of retries.
    "--fetch-retries=1",
    "--",
    spec,
  ];
}

/** Run `argv` as root in the guest; a failure throws with the tail of its output. */
async function guestRun(
  agent: AgentClient,
  what: string,
  argv: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; refused?: Set<string> },
): Promise<void> {
  const run = agent.exec({ argv, env: options.env, timeoutMs: options.timeoutMs });
  const [stdout, stderr, result] = await Promise.all([
    tail(run.stdout),
    tail(run.stderr),
    run.result,
  ]);
  if (result.code === 0) return;
  const how = result.timedOut
    ? "timed out"
    : result.code === null
    ? `killed by ${result.signal}`
    : `exit status ${result.code}`;
  const output = printable(`${stdout}${stderr}`.trim().split("\n").slice(-20).join(" | "));
  const refused = options.refused?.size
    ? `; agentbox's proxy refused: ${
      [...options.refused].join(", ")
    } (only the npm registry is allowed)`
    : "";
  throw new ImageError(`Cannot ${what} in the build VM: ${how}: ${output}${refused}`);
}

/** The last {@linkcode OUTPUT_TAIL_BYTES} of a stream, decoded. */
async function tail(stream: ReadableStream<Uint8Array>): Promise<string> {
  let kept = new Uint8Array(0);
  for await (const chunk of stream) {
    const joined = new Uint8Array(kept.length + chunk.length);
    joined.set(kept);
    joined.set(chunk, kept.length);
    kept = joined.subarray(Math.max(0, joined.length - OUTPUT_TAIL_BYTES));
  }
  return new TextDecoder().decode(kept);
}

/**
 * Apply the guest's changes to `target`: symlinks allowed (npm's `bin/` links), no high-risk hold
 * (nothing in an image tree is run by the host), everything else as apply does it for a project.
 */
async function applyInstalled(target: string, sessionDir: string): Promise<void> {
  const stored = await loadChangeset(sessionDir);
  const dir = join(sessionDir, "workspace");
  const summary = await applyChangeset({
    root: await Deno.realPath(target),
    records: stored.records,
    baseline: stored.baseline,
    blobs: stored.paths.blobs,
    allowSymlinks: true,
    allowHighRisk: true,
    journalDir: join(dir, "apply-journal"),
    completionFile: join(dir, "applied.json"),
  });
  const failed = summary.outcomes.filter((o) => o.result !== "applied" && o.result !== "unchanged");
  if (failed.length > 0) {
    const list = failed.slice(0, 5).map((o) => `${printable(o.path)} (${o.result}: ${o.reason})`);
    throw new ImageError(
      `Cannot take ${failed.length} file(s) npm made in the build VM into the image: ${
        list.join(", ")
      }${failed.length > 5 ? ", …" : ""}`,
    );
  }
}

/**
 * The versions and commands of `names` as installed under `target` (read without following a
 * symlink; the files came from a guest).
 */
async function installedVersions(
  target: string,
  names: string[],
): Promise<InstalledNpmPackage[]> {
  const packages: InstalledNpmPackage[] = [];
  for (const name of names) {
    const path = `lib/node_modules/${name}/package.json`;
    const bytes = await readUnder(target, path, 1 << 20);
    let manifest: { version?: unknown; bin?: unknown } | undefined;
    try {
      manifest = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
    } catch {
      manifest = undefined;
    }
    const version = manifest?.version;
    if (typeof version !== "string" || !/^[0-9A-Za-z.+-]{1,64}$/.test(version)) {
      throw new ImageError(`Cannot read the version of ${name}: no valid ${path} was installed`);
    }
    const bins: NpmBin[] = [];
    for (const bin of binEntries(name, manifest?.bin)) {
      const head = await readUnder(target, `lib/node_modules/${name}/${bin.path}`, 4);
      const native = head !== undefined && head.length === 4 && head[0] === 0x7f &&
        new TextDecoder().decode(head.subarray(1)) === "ELF";
      bins.push({ name: bin.name, native });
    }
    packages.push({ name, version, bins });
  }
  return packages;
}

/**
 * The commands of a package.json `bin` with their paths in the package: a string names the
 * package's own command (its name without the scope), an object one per key. A name that is not
 * plain or a path that leaves the package is left out.
 *
 * @example
 * ```ts
 * import { binEntries } from "./npm_install.ts";
 * binEntries("@openai/codex", { codex: "bin/codex.js" }); // [{ name: "codex", path: "bin/codex.js" }]
 * ```
 */
export function binEntries(name: string, bin: unknown): { name: string; path: string }[] {
  const entries: [string, unknown][] = typeof bin === "string"
    ? [[name.split("/").at(-1)!, bin]]
    : bin !== null && typeof bin === "object"
    ? Object.entries(bin)
    : [];
  return entries.flatMap(([command, path]) => {
    if (!BIN_NAME.test(command) || typeof path !== "string") return [];
    const normal = posix.normalize(path);
    if (normal.startsWith("/") || normal === ".." || normal.startsWith("../")) return [];
    return [{ name: command, path: normal }];
  });
}
