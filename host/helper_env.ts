/**
 * The whole environment of a helper process agentbox starts — the VMM (QEMU, Cloud Hypervisor)
 * and, through it, the user network's relays, `mkfs`, `ip`, `nft`, `cp`. Helpers never inherit
 * agentbox's own environment: it holds the user's API keys (the credentials the proxy injects
 * are read from it), and a guest that escaped into QEMU would read them in
 * `/proc/self/environ`. Use as `{ env: helperEnv(), clearEnv: true }`.
 *
 * Not for agentbox's own processes (the session owner reads its credentials from the
 * environment) nor for the user's credential commands, which run as the user asked.
 *
 * @module
 */

/** Where helpers are looked for when agentbox itself has no `PATH`. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment for a helper: `PATH` (to find it and what it runs), `TMPDIR` when set, and
 * `LC_ALL=C` so that messages agentbox reports are in one language.
 *
 * @example
 * ```ts
 * import { helperEnv } from "./helper_env.ts";
 * const out = await new Deno.Command("env", { env: helperEnv(), clearEnv: true }).output();
 * console.assert(!new TextDecoder().decode(out.stdout).includes("API_KEY"));
 * ```
 */
export function helperEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") || DEFAULT_PATH,
    LC_ALL: "C",
  };
  const tmp = Deno.env.get("TMPDIR");
  if (tmp) env.TMPDIR = tmp;
  return env;
}
