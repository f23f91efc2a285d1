/**
 * Built-in allowlist presets: the hosts a common tool or ecosystem needs, by name.
 *
 * @module
 */

/**
 * Preset name → host patterns. Kept minimal: registries and APIs, not their web sites.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./presets.ts";
 * console.assert(PRESETS.npm.includes("registry.npmjs.org"));
 * ```
 */
export const PRESETS: Readonly<Record<string, readonly string[]>> = {
  github: [
    "github.com",
    "*.github.com",
    "*.githubusercontent.com",
    "ghcr.io",
    "*.ghcr.io",
  ],
  npm: ["registry.npmjs.org", "registry.yarnpkg.com"],
  pypi: ["pypi.org", "files.pythonhosted.org"],
  crates: ["crates.io", "*.crates.io", "static.rust-lang.org"],
  go: ["proxy.golang.org", "sum.golang.org", "index.golang.org"],
  debian: ["deb.debian.org", "security.debian.org"],
  ubuntu: ["archive.ubuntu.com", "*.archive.ubuntu.com", "security.ubuntu.com", "ports.ubuntu.com"],
  // APIs only: an agent's auth, telemetry and update hosts are in its profile (agent_presets.ts).
  anthropic: ["api.anthropic.com"],
  openai: ["api.openai.com", "auth.openai.com"],
  "google-ai": [
    "generativelanguage.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "oauth2.googleapis.com",
  ],
};
