/**
 * `agentbox images`: build, list and remove guest images.
 *
 * ```
 * agentbox images build [NAME]   build (or rebuild) an image from Debian packages
 * agentbox images list           list built images (also `ls`)
 * agentbox images rm NAME...     remove images
 * ```
 *
 * @module
 */

import { npmInstallInVm } from "../api/npm_install.ts";
import { buildImage } from "../../image/build.ts";
import { ImageError } from "../../image/errors.ts";
import { profileFor, PROFILES } from "../../image/profiles.ts";
import { DEFAULT_IMAGE, findImage, imagesDir, listImages, removeImage } from "../../image/store.ts";
import { AGENT_PRESETS } from "../config/agent_presets.ts";
import { prepareDefaultTemplate, templatesEnabled } from "../vm/template.ts";
import type { VmNetwork } from "../vm/spec.ts";
import { emptyPolicy } from "../config/policy.ts";
import { startEgress } from "../egress/egress.ts";
import { resolveNetBackend } from "../net/net_backend.ts";
import { findRelay, NO_RELAY_KEY, proxyNetwork } from "../net/user_network.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";
import { ProgressLine } from "./progress_bar.ts";
import { printTable } from "./table.ts";

const HELP = `Usage: agentbox images <command>

Manage the guest images agentbox boots (stored under ${"$"}XDG_DATA_HOME/agentbox/images).

Commands:
  build [NAME]   Build the image NAME (default "${DEFAULT_IMAGE}") from Debian packages
  list, ls       List built images
  rm NAME...     Remove images

Run \`agentbox images <command> --help\` for details.`;

const PROFILE_LINES = Object.values(PROFILES)
  .map((p) => `  ${p.name.padEnd(9)} ${p.summary}`)
  .join("\n");

const BUILD_HELP = `Usage: agentbox images build [NAME] [--profile PROFILE] [--agents LIST]

Build the guest image NAME (default "${DEFAULT_IMAGE}"): the Debian cloud kernel, an initrd with
busybox and the needed kernel modules, and an erofs root filesystem with Deno and the guest agent
plus what the profile puts there. Downloaded packages are cached under
${"$"}XDG_CACHE_HOME/agentbox/debs. An existing image of that name is replaced only when the
build succeeds. Then the image is booted once and saved as the template snapshot that
\`agentbox exec\` and \`agentbox run\` start from (under ${"$"}XDG_CACHE_HOME/agentbox/templates;
skipped with AGENTBOX_NO_TEMPLATE=1; other VM shapes get theirs on first use).

Profiles (default: the one named like the image, else "default"):
${PROFILE_LINES}

Needs on the host: apt-get, apt-cache and dpkg-deb with current package lists, and mkfs.erofs
(erofs-utils). The default profile needs no root; the dev profile needs root and debootstrap
(it installs packages in a chroot) and downloads a few hundred MB from the Debian mirror.

Options:
  --profile PROFILE   what to put in the root filesystem (see above)
  --agents LIST       dev profile: also install these agent CLIs with npm, in a VM of the new
                      image whose only way out is agentbox's proxy (only the npm registry is
                      reachable): a comma-separated list of
                      ${Object.keys(AGENT_PRESETS).join(", ")}
  -h, --help          show this help`;

const LIST_HELP = `Usage: agentbox images list

List the built images with their profile, default user, kernel, size and creation time.
\`agentbox images ls\` is the same.

Options:
  -h, --help   show this help`;

const RM_HELP = `Usage: agentbox images rm NAME...

Remove the named images from the images directory.

Options:
  -h, --help   show this help`;

/**
 * Run `agentbox images …` with the arguments after `images`; returns the exit code.
 *
 * @example
 * ```ts
 * import { imagesCommand } from "./images.ts";
 * Deno.exit(await imagesCommand(["list"]));
 * ```
 */
export async function imagesCommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "build":
      return await build(rest);
    case "list":
    case "ls":
      return await list(rest);
    case "rm":
      return await remove(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      if (command === undefined) {
        throw new UsageError("Missing command: see `agentbox images --help`");
      }
      console.log(HELP);
      return 0;
    default:
      throw new UsageError(`Unknown command "images ${command}": see \`agentbox images --help\``);
  }
}

/** Parse a subcommand's arguments with the shared option vocabulary; counts are checked. */
function parse(
  command: string,
  args: string[],
  positionals: { min: number; max: number },
  options: Record<string, { type: "string" }> = {},
) {
  const parsed = parseCommandArgs(`images ${command}`, args, options);
  const count = parsed.positionals.length;
  const help = parsed.values.help === true;
  if (!help && (count > positionals.max || count < positionals.min)) {
    const what = count > positionals.max ? "Too many arguments" : "Missing arguments";
    throw new UsageError(`${what}: see \`agentbox images ${command} --help\``);
  }
  return {
    help,
    positionals: parsed.positionals,
    values: parsed.values as Record<string, string | boolean | undefined>,
  };
}

async function build(args: string[]): Promise<number> {
  const parsed = parse("build", args, { min: 0, max: 1 }, {
    profile: { type: "string" },
    agents: { type: "string" },
  });
  if (parsed.help) {
    console.log(BUILD_HELP);
    return 0;
  }
  const name = parsed.positionals[0] ?? DEFAULT_IMAGE;
  const started = performance.now();
  const line = new ProgressLine();
  try {
    const profile = profileFor(parsed.values.profile as string | undefined, name);
    const manifest = await buildImage({
      name,
      profile,
      npmPackages: agentPackages(parsed.values.agents as string | undefined),
      imagesDir: imagesDir(),
      onProgress: (step, detail) => {
        line.clear();
        console.error(`${step}${detail ? ` (${detail})` : ""}…`);
      },
      onStepProgress: (progress) => line.update(progress),
      onWarning: (message) => {
        line.clear();
        console.error(`agentbox: warning: ${message}`);
      },
      installNpm: npmInstallInVm,
    });
    line.clear();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const user = manifest.user ? `, commands run as ${manifest.user.name}` : "";
    console.error(
      `Built image "${name}" (profile ${profile.name}) in ${seconds} s: kernel ` +
        `${manifest.kernel.release}, deno ${manifest.deno.version}, ` +
        `${manifest.packages.length} Debian packages${user}`,
    );
    if (templatesEnabled()) await buildTemplate(name);
    return 0;
  } catch (error) {
    line.clear();
    throw error;
  }
}

/** `--agents claude,codex` → their npm packages. */
function agentPackages(list: string | undefined): string[] {
  if (list === undefined) return [];
  return list.split(",").map((name) => name.trim()).filter(Boolean).map((name) => {
    const preset = Object.hasOwn(AGENT_PRESETS, name) ? AGENT_PRESETS[name] : undefined;
    if (!preset?.npmPackage) {
      throw new ImageError(
        `Unknown agent "${name}" in --agents: use ${Object.keys(AGENT_PRESETS).join(", ")}`,
      );
    }
    return preset.npmPackage;
  });
}

async function remove(args: string[]): Promise<number> {
  const parsed = parse("rm", args, { min: 1, max: 64 });
  if (parsed.help) {
    console.log(RM_HELP);
    return 0;
  }
  for (const name of parsed.positionals) {
    await removeImage(name);
    console.error(`Removed image "${name}"`);
  }
  return 0;
}

/** Boot the new image once and save the template snapshot `exec` and `run` start from. */
async function buildTemplate(name: string): Promise<void> {
  console.error("Making the template snapshot (a booted VM that sandboxes start from)…");
  const started = performance.now();
  try {
    const image = await findImage(name);
    await withDefaultNetwork((network) => prepareDefaultTemplate(image, network));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(`Made the template snapshot in ${seconds} s`);
  } catch (error) {
    // The image is fine: sandboxes boot cold, or make the template on first use.
    console.error(
      `agentbox: warning: cannot make the template snapshot, sandboxes will boot cold: ${
        error instanceof Error ? error.message : error
      }`,
    );
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

async function list(args: string[]): Promise<number> {
  const parsed = parse("list", args, { min: 0, max: 0 });
  if (parsed.help) {
    console.log(LIST_HELP);
    return 0;
  }
  const images = await listImages();
  if (images.length === 0) {
    console.error(`No images in ${imagesDir()}: run \`agentbox images build\``);
    return 0;
  }
  const rows = images.map((image) => {
    if ("error" in image) {
      return [image.name, "-", "-", "-", "-", "-", `broken: ${image.error.message}`];
    }
    const { manifest } = image;
    const bytes = Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0);
    return [
      image.name,
      manifest.profile ?? "default",
      manifest.user?.name ?? "root",
      manifest.kernel.release,
      `${(bytes / 1024 / 1024).toFixed(0)} MiB`,
      manifest.created.replace(/\.\d+Z$/, "Z"),
      "ok",
    ];
  });
  printTable([["NAME", "PROFILE", "USER", "KERNEL", "SIZE", "CREATED", "STATUS"], ...rows]);
  return 0;
}
