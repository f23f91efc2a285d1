/**
 * The `[inspect]` table and the `[[credentials]]` array of the configuration, read into
 * {@linkcode InspectSettings}. Credentials and a persisted CA file are accepted only from a
 * trusted source (the user's config.toml): a project's `.agentbox.toml` is writable by the
 * sandbox, and a credential entry there could send a host secret anywhere or run a command on
 * the host.
 *
 * @module
 */

import { canonicalHost } from "../net/canonical_host.ts";
import { ConfigError } from "./config_error.ts";
import { CREDENTIAL_PRESETS } from "./credential_presets.ts";
import type { CredentialSpec, InspectSettings, SecretSpec } from "./inspect_settings.ts";
import { parseRoutePattern, type RoutePattern } from "./route_pattern.ts";
import { checkKeys, hostRule, optionalString, strings, table, type Where } from "./toml_values.ts";

const INSPECT_KEYS = ["enabled", "hosts", "bypass", "ca_file", "rules", "rewrites"];
const RULE_KEYS = ["host", "allow", "deny"];
const REWRITE_KEYS = ["host", "to"];
const CREDENTIAL_KEYS = [
  "preset",
  "host",
  "port",
  "path",
  "header",
  "scheme",
  "env",
  "file",
  "command",
  "ttl",
  "guest_env",
];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Headers the proxy itself owns: a credential may not set them. */
const RESERVED_HEADERS = [
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "upgrade",
  "proxy-authorization",
  "proxy-connection",
];
const DEFAULT_TTL_S = { file: 300, command: 3600 };

/**
 * Add an `[inspect]` table to `settings` (mutated). `trusted` is true only for the user file.
 *
 * @example
 * ```ts
 * import { applyInspectTable } from "./inspect_config.ts";
 * import { emptyInspectSettings } from "./inspect_settings.ts";
 * const s = emptyInspectSettings();
 * applyInspectTable(s, { enabled: true }, (key) => ({ file: "x.toml", key }), false);
 * ```
 */
export function applyInspectTable(
  settings: InspectSettings,
  inspect: Record<string, unknown>,
  where: Where,
  trusted: boolean,
): void {
  checkKeys(inspect, INSPECT_KEYS, "inspect", where);
  if (inspect.enabled !== undefined) {
    if (typeof inspect.enabled !== "boolean") {
      throw new ConfigError(where("inspect.enabled"), "must be true or false");
    }
    settings.enabled = inspect.enabled;
  }
  for (const list of ["hosts", "bypass"] as const) {
    const loc = where(`inspect.${list}`);
    settings[list].push(
      ...strings(inspect[list], loc).map((p) => hostRule(p, `inspect.${list}`, loc)),
    );
  }
  if (inspect.ca_file !== undefined) {
    const loc = where("inspect.ca_file");
    if (!trusted) throw untrusted(loc, "a persisted CA");
    settings.caFile = expandHome(optionalString(inspect.ca_file, loc)!);
  }
  arrayOfTables(inspect.rules, "inspect.rules", where).forEach((rule, i) => {
    const key = `inspect.rules.${i}`;
    checkKeys(rule, RULE_KEYS, key, where);
    const host = requiredString(rule.host, where(`${key}.host`));
    settings.rules.push({
      host: hostRule(host, "inspect.rules", where(`${key}.host`)),
      allow: routes(rule.allow, where(`${key}.allow`)),
      deny: routes(rule.deny, where(`${key}.deny`)),
    });
  });
  arrayOfTables(inspect.rewrites, "inspect.rewrites", where).forEach((rewrite, i) => {
    const key = `inspect.rewrites.${i}`;
    checkKeys(rewrite, REWRITE_KEYS, key, where);
    const host = exactHost(rewrite.host, where(`${key}.host`));
    const loc = where(`${key}.to`);
    settings.rewrites.push({
      host,
      to: rewriteTarget(rewrite.to, loc),
      source: `${key} in ${loc.file}`,
    });
  });
}

/**
 * Add a `[[credentials]]` array to `settings` (mutated). Throws {@linkcode ConfigError} unless
 * `trusted`.
 *
 * @example
 * ```ts
 * import { applyCredentials } from "./inspect_config.ts";
 * import { emptyInspectSettings } from "./inspect_settings.ts";
 * const s = emptyInspectSettings();
 * applyCredentials(s, [{ preset: "anthropic" }], (key) => ({ file: "config.toml", key }), true);
 * console.assert(s.credentials[0].header === "x-api-key");
 * ```
 */
export function applyCredentials(
  settings: InspectSettings,
  value: unknown,
  where: Where,
  trusted: boolean,
): void {
  const entries = arrayOfTables(value, "credentials", where);
  if (entries.length > 0 && !trusted) throw untrusted(where("credentials"), "credentials");
  entries.forEach((entry, i) =>
    settings.credentials.push(credential(entry, `credentials.${i}`, where))
  );
}

function credential(entry: Record<string, unknown>, key: string, where: Where): CredentialSpec {
  checkKeys(entry, CREDENTIAL_KEYS, key, where);
  const at = (k: string) => where(`${key}.${k}`);
  let preset = undefined;
  if (entry.preset !== undefined) {
    const name = optionalString(entry.preset, at("preset"))!;
    if (!Object.hasOwn(CREDENTIAL_PRESETS, name)) {
      const known = Object.keys(CREDENTIAL_PRESETS).join(", ");
      throw new ConfigError(
        at("preset"),
        `unknown preset ${JSON.stringify(name)} (known: ${known})`,
      );
    }
    preset = CREDENTIAL_PRESETS[name];
  }
  const host = entry.host === undefined && preset ? preset.host : exactHost(entry.host, at("host"));
  const header = (optionalString(entry.header, at("header")) ?? preset?.header)?.toLowerCase();
  if (header === undefined) throw new ConfigError(at("header"), "is required");
  if (!TOKEN.test(header) || RESERVED_HEADERS.includes(header)) {
    throw new ConfigError(at("header"), `${JSON.stringify(header)} cannot carry a credential`);
  }
  const scheme = optionalString(entry.scheme, at("scheme")) ?? preset?.scheme;
  if (scheme !== undefined && !TOKEN.test(scheme)) {
    throw new ConfigError(at("scheme"), "must be a single token such as Bearer");
  }
  const secret = secretSpec(entry, at, preset?.env);
  const guestEnv = entry.guest_env === undefined
    ? preset?.guestEnv ?? (secret.kind === "env" ? [secret.name] : [])
    : strings(entry.guest_env, at("guest_env"));
  for (const name of guestEnv) {
    if (!ENV_NAME.test(name)) {
      throw new ConfigError(at("guest_env"), `${JSON.stringify(name)} is not a variable name`);
    }
  }
  const port = entry.port === undefined ? 443 : entry.port;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    throw new ConfigError(at("port"), "must be a port number (1-65535)");
  }
  const path = entry.path === undefined ? undefined : route(`* ${entry.path}`, at("path"));
  return {
    host,
    port: port as number,
    path,
    header,
    scheme,
    secret,
    guestEnv,
    source: `${key} in ${at("").file}`,
  };
}

function secretSpec(
  entry: Record<string, unknown>,
  at: (k: string) => ReturnType<Where>,
  presetEnv: string | undefined,
): SecretSpec {
  const given = ["env", "file", "command"].filter((k) => entry[k] !== undefined);
  if (given.length > 1) throw new ConfigError(at(given[1]), "set only one of env, file, command");
  const kind = given[0] ?? (presetEnv !== undefined ? "env" : undefined);
  if (kind === undefined) throw new ConfigError(at("env"), "one of env, file, command is required");
  if (entry.ttl !== undefined && kind === "env") {
    throw new ConfigError(at("ttl"), "applies to file and command only");
  }
  const ttl = entry.ttl ?? DEFAULT_TTL_S[kind as "file" | "command"];
  if (kind !== "env" && (!Number.isInteger(ttl) || (ttl as number) < 1)) {
    throw new ConfigError(at("ttl"), "must be a whole number of seconds (at least 1)");
  }
  const ttlMs = (ttl as number) * 1000;
  if (kind === "env") {
    const name = entry.env === undefined ? presetEnv! : optionalString(entry.env, at("env"))!;
    if (!ENV_NAME.test(name)) throw new ConfigError(at("env"), "is not a variable name");
    return { kind, name };
  }
  if (kind === "file") {
    return { kind, path: expandHome(optionalString(entry.file, at("file"))!), ttlMs };
  }
  const argv = strings(entry.command, at("command"));
  if (argv.length === 0) throw new ConfigError(at("command"), "must name a program");
  return { kind: "command", argv, ttlMs };
}

function arrayOfTables(value: unknown, key: string, where: Where): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError(where(key), "must be an array of tables ([[...]])");
  }
  return value.map((v, i) => table(v, where(`${key}.${i}`)));
}

function requiredString(value: unknown, loc: ReturnType<Where>): string {
  const s = optionalString(value, loc);
  if (s === undefined) throw new ConfigError(loc, "is required");
  return s;
}

function exactHost(value: unknown, loc: ReturnType<Where>): string {
  const text = requiredString(value, loc);
  try {
    const host = canonicalHost(text);
    if (host.kind === "dns") return host.name;
  } catch { /* reported below */ }
  throw new ConfigError(
    loc,
    `${JSON.stringify(text)} must be an exact host name (no wildcard, no IP)`,
  );
}

function rewriteTarget(value: unknown, loc: ReturnType<Where>) {
  const text = requiredString(value, loc);
  const url = URL.parse(text);
  if (!url || url.protocol !== "https:" || url.username || url.password || url.search || url.hash) {
    throw new ConfigError(loc, `${JSON.stringify(text)} must be an https:// URL without query`);
  }
  const host = canonicalHost(url.hostname);
  if (host.kind !== "dns") throw new ConfigError(loc, "must name a host, not an IP address");
  return { host, port: Number(url.port || 443), pathPrefix: url.pathname.replace(/\/+$/, "") };
}

function routes(value: unknown, loc: ReturnType<Where>): RoutePattern[] {
  return strings(value, loc).map((text) => route(text, loc));
}

function route(text: string, loc: ReturnType<Where>): RoutePattern {
  try {
    return parseRoutePattern(text);
  } catch (err) {
    throw new ConfigError(loc, (err as Error).message);
  }
}

function untrusted(loc: ReturnType<Where>, what: string): ConfigError {
  return new ConfigError(
    loc,
    `${what} can be set only in the user configuration (config.toml), never in a project file the sandbox can write`,
  );
}

function expandHome(path: string): string {
  if (!path.startsWith("~/")) return path;
  const home = Deno.env.get("HOME");
  if (!home) throw new ConfigError({ file: path }, "HOME is not set");
  return `${home}${path.slice(1)}`;
}
