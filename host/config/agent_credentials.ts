/**
 * The credentials an agent preset brings to a TLS-inspected session: for `claude`, the Anthropic
 * key from the host's `ANTHROPIC_API_KEY`, injected by the proxy; the guest sees a placeholder.
 *
 * @module
 */

import { agentPreset } from "./agent_presets.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import { applyCredentials } from "./inspect_config.ts";
import type { InspectSettings } from "./inspect_settings.ts";

/**
 * Add `tool`'s preset credentials to `settings` — each one whose host variable is set (in `env`)
 * and whose host no configured `[[credentials]]` entry covers. Returns the preset names added.
 *
 * @example
 * ```ts
 * import { addAgentCredentials } from "./agent_credentials.ts";
 * import { emptyInspectSettings } from "./inspect_settings.ts";
 * const settings = emptyInspectSettings();
 * addAgentCredentials(settings, "claude", { get: () => "sk-test" }); // ["anthropic"]
 * ```
 */
export function addAgentCredentials(
  settings: InspectSettings,
  tool: string | undefined,
  env: { get(name: string): string | undefined } = Deno.env,
): string[] {
  const added: string[] = [];
  for (const name of agentPreset(tool)?.credentials ?? []) {
    const preset = CREDENTIAL_PRESETS[name];
    if (!preset || env.get(preset.env) === undefined) continue;
    if (settings.credentials.some((c) => c.host === preset.host)) continue;
    applyCredentials(
      settings,
      [{ preset: name }],
      (key) => ({ file: `agent preset ${tool}`, key }),
      true,
    );
    added.push(name);
  }
  return added;
}
