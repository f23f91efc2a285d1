/**
 * Built-in credential presets: where a tool's API expects its key, and which environment
 * variables its clients read it from (the guest gets a placeholder there).
 *
 * @module
 */

/** A preset: every field of a `[[credentials]]` entry except where the secret comes from. */
export interface CredentialPreset {
  host: string;
  header: string;
  scheme?: string;
  /** Default secret source: this host environment variable. */
  env: string;
  guestEnv: string[];
}

/**
 * Preset name → settings. `[[credentials]] preset = "anthropic"` uses them; any key set next to
 * `preset` overrides the preset's.
 *
 * @example
 * ```ts
 * import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
 * console.assert(CREDENTIAL_PRESETS.anthropic.header === "x-api-key");
 * ```
 */
export const CREDENTIAL_PRESETS: Readonly<Record<string, CredentialPreset>> = {
  anthropic: {
    host: "api.anthropic.com",
    header: "x-api-key",
    env: "ANTHROPIC_API_KEY",
    guestEnv: ["ANTHROPIC_API_KEY"],
  },
  openai: {
    host: "api.openai.com",
    header: "authorization",
    scheme: "Bearer",
    env: "OPENAI_API_KEY",
    guestEnv: ["OPENAI_API_KEY"],
  },
  "google-ai": {
    host: "generativelanguage.googleapis.com",
    header: "x-goog-api-key",
    env: "GEMINI_API_KEY",
    guestEnv: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
  },
  github: {
    host: "api.github.com",
    header: "authorization",
    scheme: "Bearer",
    env: "GITHUB_TOKEN",
    guestEnv: ["GH_TOKEN", "GITHUB_TOKEN"],
  },
};
