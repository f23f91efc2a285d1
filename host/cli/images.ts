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

import {
  AGENT_NAMES,
  buildImageAndTemplate,
  DEFAULT_IMAGE,
  IMAGE_PROFILES,
  type ImageBuildReport,
  listImageSummaries,
  removeImages,
} from "../api/images.ts";
import { UsageError } from "./errors.ts";
import { printEvent } from "./one_shot.ts";
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

const PROFILE_LINES = IMAGE_PROFILES
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
                      ${AGENT_NAMES.join(", ")}
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
  const line = new ProgressLine();
  try {
    const report = await buildImageAndTemplate({
      name: parsed.positionals[0],
      profile: parsed.values.profile as string | undefined,
      agents: agentList(parsed.values.agents as string | undefined),
    }, (event) => {
      if (event.type === "step-progress") {
        line.update({ label: event.message, fraction: event.fraction });
        return;
      }
      line.clear();
      if (event.type === "warning") printEvent(event);
      else console.error(event.message);
    });
    line.clear();
    printBuildReport(report);
    return 0;
  } catch (error) {
    line.clear();
    throw error;
  }
}

/** `--agents claude,codex` → the names (checked by the core). */
function agentList(list: string | undefined): string[] {
  return (list ?? "").split(",").map((name) => name.trim()).filter(Boolean);
}

function printBuildReport(report: ImageBuildReport): void {
  const user = report.user ? `, commands run as ${report.user}` : "";
  console.error(
    `Built image "${report.name}" (profile ${report.profile}) in ${
      report.seconds.toFixed(1)
    } s: kernel ${report.kernel}, deno ${report.deno}, ${report.packages} Debian packages${user}`,
  );
  const { template } = report;
  if (template.state === "made") {
    console.error(`Made the template snapshot in ${template.seconds.toFixed(1)} s`);
  } else if (template.state === "failed") {
    // The image is fine: sandboxes boot cold, or make the template on first use.
    console.error(
      `agentbox: warning: cannot make the template snapshot, sandboxes will boot cold: ${template.reason}`,
    );
  }
}

async function remove(args: string[]): Promise<number> {
  const parsed = parse("rm", args, { min: 1, max: 64 });
  if (parsed.help) {
    console.log(RM_HELP);
    return 0;
  }
  await removeImages(parsed.positionals, (event) => console.error(event.message));
  return 0;
}

async function list(args: string[]): Promise<number> {
  const parsed = parse("list", args, { min: 0, max: 0 });
  if (parsed.help) {
    console.log(LIST_HELP);
    return 0;
  }
  const { dir, images } = await listImageSummaries();
  if (images.length === 0) {
    console.error(`No images in ${dir}: run \`agentbox images build\``);
    return 0;
  }
  const rows = images.map((image) =>
    image.status === "broken" ? [image.name, "-", "-", "-", "-", "-", `broken: ${image.error}`] : [
      image.name,
      image.profile,
      image.user,
      image.kernel,
      `${(image.bytes / 1024 / 1024).toFixed(0)} MiB`,
      image.created.replace(/\.\d+Z$/, "Z"),
      "ok",
    ]
  );
  printTable([["NAME", "PROFILE", "USER", "KERNEL", "SIZE", "CREATED", "STATUS"], ...rows]);
  return 0;
}
