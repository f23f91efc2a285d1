/**
 * `agentbox images`: build and list guest images.
 *
 * ```
 * agentbox images build [NAME]   build (or rebuild) an image from Debian packages
 * agentbox images list           list built images
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { buildImage } from "../../image/build.ts";
import { ImageError } from "../../image/errors.ts";
import { DEFAULT_IMAGE, findImage, imagesDir, listImages } from "../../image/store.ts";
import { prepareDefaultTemplate, templatesEnabled } from "../vm/template.ts";

const HELP = `Usage: agentbox images <command>

Manage the guest images agentbox boots (stored under ${"$"}XDG_DATA_HOME/agentbox/images).

Commands:
  build [NAME]   Build the image NAME (default "${DEFAULT_IMAGE}") from Debian packages
  list           List built images

Run \`agentbox images <command> --help\` for details.
`;

const BUILD_HELP = `Usage: agentbox images build [NAME]

Build the guest image NAME (default "${DEFAULT_IMAGE}"): the Debian cloud kernel, an initrd with
busybox and the needed kernel modules, and an erofs root filesystem with busybox, curl, CA
certificates, Deno and the guest agent. Downloaded packages are cached under
${"$"}XDG_CACHE_HOME/agentbox/debs. An existing image of that name is replaced only when the
build succeeds. Then the image is booted once and saved as the template snapshot that
\`agentbox exec\` and \`agentbox run\` start from (under ${"$"}XDG_CACHE_HOME/agentbox/templates;
skipped with AGENTBOX_NO_TEMPLATE=1; other VM shapes get theirs on first use).

Needs on the host: apt-get, apt-cache and dpkg-deb with current package lists, and mkfs.erofs
(erofs-utils). No root.

Options:
  -h, --help   Show this help
`;

const LIST_HELP = `Usage: agentbox images list

List the built images with their kernel, size and creation time.

Options:
  -h, --help   Show this help
`;

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
      return await list(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(HELP);
      return command === undefined ? 2 : 0;
    default:
      console.error(`error: unknown command "images ${command}"\n\n${HELP}`);
      return 2;
  }
}

function parse(args: string[], help: string, maxPositionals: number) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
    if (positionals.length > maxPositionals) throw new Error("too many arguments");
    return { help: values.help === true, positionals };
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}\n\n${help}`);
    return undefined;
  }
}

async function build(args: string[]): Promise<number> {
  const parsed = parse(args, BUILD_HELP, 1);
  if (!parsed) return 2;
  if (parsed.help) {
    console.log(BUILD_HELP);
    return 0;
  }
  const name = parsed.positionals[0] ?? DEFAULT_IMAGE;
  const started = performance.now();
  try {
    const manifest = await buildImage({
      name,
      imagesDir: imagesDir(),
      onProgress: (step, detail) => console.error(`${step}${detail ? ` (${detail})` : ""}…`),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(
      `Built image "${name}" in ${seconds} s: kernel ${manifest.kernel.release}, ` +
        `deno ${manifest.deno.version}, ${manifest.packages.length} Debian packages`,
    );
    if (templatesEnabled()) await buildTemplate(name);
    return 0;
  } catch (error) {
    return report(error);
  }
}

/** Boot the new image once and save the template snapshot `exec` and `run` start from. */
async function buildTemplate(name: string): Promise<void> {
  console.error("Making the template snapshot (a booted VM that sandboxes start from)…");
  const started = performance.now();
  try {
    await prepareDefaultTemplate(await findImage(name));
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

async function list(args: string[]): Promise<number> {
  const parsed = parse(args, LIST_HELP, 0);
  if (!parsed) return 2;
  if (parsed.help) {
    console.log(LIST_HELP);
    return 0;
  }
  try {
    const images = await listImages();
    if (images.length === 0) {
      console.error(`No images in ${imagesDir()}: run \`agentbox images build\``);
      return 0;
    }
    const rows = images.map((image) => {
      if ("error" in image) return [image.name, "-", "-", "-", `broken: ${image.error.message}`];
      const { manifest } = image;
      const bytes = Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0);
      return [
        image.name,
        manifest.kernel.release,
        `${(bytes / 1024 / 1024).toFixed(0)} MiB`,
        manifest.created.replace(/\.\d+Z$/, "Z"),
        "ok",
      ];
    });
    const table = [["NAME", "KERNEL", "SIZE", "CREATED", "STATUS"], ...rows];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) {
      console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    }
    return 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (!(error instanceof ImageError)) throw error;
  console.error(`error: ${error.message}`);
  return 1;
}
