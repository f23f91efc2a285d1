/**
 * Test support for the slow tests: the `dev` image with the agent CLIs, built once (debootstrap,
 * apt and npm in a VM: many minutes, root only) unless a current one is in the images directory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { agentSourceDigest } from "../../../image/agent_source.ts";
import { findImage } from "../../../image/store.ts";
import { agentbox } from "../../helpers.ts";

/** The agent CLIs the slow tests want in the image. */
export const AGENT_CLIS = ["@anthropic-ai/claude-code", "@openai/codex"];

/** Build `dev --agents claude,codex` unless a usable one carries this checkout's agent and them. */
export async function ensureDevImage(): Promise<void> {
  const current = await findImage("dev").then(
    async (image) =>
      image.manifest.agent.sourceSha256 === await agentSourceDigest() &&
      AGENT_CLIS.every((name) => image.manifest.npm?.some((p) => p.name === name)),
    () => false,
  );
  if (current) return;
  const started = performance.now();
  const out = await agentbox(["images", "build", "dev", "--agents", "claude,codex"]).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  console.error(`dev image built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
