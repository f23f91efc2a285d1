/**
 * A digest of the guest agent's source, recorded in an image's manifest, so that agentbox can tell
 * when an image carries an agent built from other code than the one it runs with.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The guest agent's source directory in this checkout. */
export const AGENT_SOURCE_DIR = fileURLToPath(new URL("../guest-agent", import.meta.url));

/**
 * SHA-256 over the agent's production TypeScript files (relative path and content, sorted): tests
 * (`*_test.ts`) and test support (`testing/` folders, docs/development.md) do not count, and a
 * compiled binary, which embeds only the agent's module graph, digests the same files. Undefined
 * when the source is not there.
 *
 * @example
 * ```ts
 * import { agentSourceDigest } from "./agent_source.ts";
 * console.log(await agentSourceDigest()); // e.g. "3f1c…"
 * ```
 */
export async function agentSourceDigest(dir = AGENT_SOURCE_DIR): Promise<string | undefined> {
  const files: string[] = [];
  try {
    await collect(dir, "", files);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const file of files.sort()) {
    parts.push(
      encoder.encode(`${file}\0`),
      await Deno.readFile(`${dir}/${file}`),
      encoder.encode("\0"),
    );
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function collect(dir: string, prefix: string, out: string[]): Promise<void> {
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      if (entry.name !== "testing") await collect(dir, path, out);
    } else if (isAgentSource(entry.name)) out.push(path);
  }
}

function isAgentSource(name: string): boolean {
  return name.endsWith(".ts") && !name.endsWith("_test.ts");
}
