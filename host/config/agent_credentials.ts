/**
 * The credentials an agent preset brings to a TLS-inspected session: for `claude`, the Anthropic
 * key from the host's `ANTHROPIC_API_KEY`, injected by the proxy; the guest sees a placeholder.
 * With the user's own endpoint (`ANTHROPIC_BASE_URL`), the key is bound to that endpoint's host
 * and port instead of the preset's.
 *
 * @module
 */

import type { ResolvedAgent } from "./agent_profile.ts";
import { urlPort } from "./agent_profile.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import { applyCredentials } from "./inspect_config.ts";
import type { InspectSettings } from "./inspect_settings.ts";

/**
 * Add `agent`'s preset credentials to `settings` — each one whose host variable is set (in `env`)
 * and whose host no configured `[[credentials]]` entry covers. Returns the preset names added.
 *
 * @example
 * ```ts
 * import { addAgentCredentials } from "./agent_credentials.ts";
 * import { resolveAgent } from "./agent_profile.ts";
 * import { emptyInspectSettings } from "./inspect_settings.ts";
 * const settings = emptyInspectSettings();
 * const env = { get: (name: string) => name === "ANTHROPIC_API_KEY" ? "sk-test" : undefined };
 * addAgentCredentials(settings, resolveAgent("claude", { hostEnv: env }), env); // ["anthropic"]
 * ```
 */
export function addAgentCredentials(
  settings: InspectSettings,
  agent: ResolvedAgent | undefined,
  env: { get(name: string): string | undefined } = Deno.env,
): string[] {
  const added: string[] = [];
  for (const name of agent?.preset.credentials ?? []) {
    const preset = CREDENTIAL_PRESETS[name];
    if (!preset || env.get(preset.env) === undefined) continue;
    const endpoint = agent?.baseUrl;
    // A key never goes in clear text: an http endpoint gets no credential.
    if (endpoint && endpoint.protocol !== "https:") continue;
    const host = endpoint?.hostname ?? preset.host;
    const port = endpoint ? urlPort(endpoint) : 443;
    if (settings.credentials.some((c) => c.host === host && c.port === port)) continue;
    applyCredentials(
      settings,
      [{ preset: name, ...(endpoint ? { host, port } : {}) }],
      (key) => ({ file: `agent preset ${agent?.name}`, key }),
      true,
    );
    added.push(name);
  }
  return added;
}
