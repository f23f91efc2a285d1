/**
 * `agentbox version [--json]`: agentbox, Deno, QEMU and the built images. `agentbox --version`
 * stays the bare number, answered without loading any of this.
 *
 * @module
 */

import { versions } from "../api/versions.ts";
import { escapeControls } from "../terminal_text.ts";
import { parseCommandArgs } from "./options.ts";

/** Version of the `version --json` report; bumped only when a field changes meaning. */
export const VERSION_REPORT_VERSION = 1;

/** Help text of `agentbox version`. */
export const VERSION_HELP = `Show the versions of agentbox, Deno, QEMU and the built images.

Usage: agentbox version [--json]

\`agentbox --version\` prints only agentbox's version number, at once.

Options:
  --json      print {"version": 1, "agentbox": …, "deno": {…}, "qemu": {binary, version},
              "images": [...]} (images as \`agentbox images list --json\` lists them)
  -h, --help  show this help`;

/**
 * Run `agentbox version ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { versionCommand } from "./version_command.ts";
 * await versionCommand([]);
 * ```
 */
export async function versionCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("version", args, { json: { type: "boolean" } });
  if (values.help) {
    console.log(VERSION_HELP);
    return 0;
  }
  const found = await versions();
  if (values.json) {
    console.log(JSON.stringify({ version: VERSION_REPORT_VERSION, ...found }, null, 2));
    return 0;
  }
  const images = found.images.map((image) =>
    image.status === "ok"
      ? `${image.name} (profile ${image.profile}, kernel ${image.kernel}, built ${
        image.created.replace(/\.\d+Z$/, "Z")
      })`
      : `${image.name} (broken: ${image.error})`
  );
  const lines = [
    ["agentbox", found.agentbox],
    ["deno", `${found.deno.deno} (V8 ${found.deno.v8}, TypeScript ${found.deno.typescript})`],
    ["qemu", found.qemu.version ?? `${found.qemu.binary} not found`],
    ["images", images.length > 0 ? images.join("\n          ") : "none built"],
  ];
  for (const [name, value] of lines) {
    console.log(`${name.padEnd(10)}${escapeControls(value, { keep: "\n" })}`);
  }
  return 0;
}
