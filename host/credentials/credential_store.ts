/**
 * The session's credentials: for each configured one, a random placeholder the guest sees in
 * its environment and the real secret, read on first use, cached until its TTL expires (then
 * read again — a command is re-run) and set only on requests to the host, port and path it is
 * bound to, over TLS.
 *
 * @module
 */

import type { CredentialSpec } from "../config/inspect_settings.ts";
import { matchesEveryReading } from "../config/route_pattern.ts";
import { CredentialError } from "./credential_error.ts";
import { readSecret, type ReadSecretOptions } from "./read_secret.ts";

/** A header the proxy sets on an outgoing request. */
export interface InjectedHeader {
  name: string;
  value: string;
  /** The bare secret, so the proxy can keep it out of what goes back to the guest. */
  secret: string;
}

/** Options of {@linkcode CredentialStore}. */
export interface CredentialStoreOptions extends ReadSecretOptions {
  /** Clock (default `Date.now`), for TTL tests. */
  now?: () => number;
}

interface Entry {
  spec: CredentialSpec;
  placeholder: string;
  cached?: { value: Promise<string>; expiresAt: number };
}

/**
 * Placeholders and secrets of one session.
 *
 * @example
 * ```ts
 * import { CredentialStore } from "./credential_store.ts";
 * import { applyConfigText } from "../config/load_config.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const policy = emptyPolicy();
 * applyConfigText(policy, '[[credentials]]\npreset = "anthropic"\n', "config.toml", { trusted: true });
 * const store = new CredentialStore(policy.inspect.credentials);
 * console.log(store.guestEnv()); // { ANTHROPIC_API_KEY: "agentbox-placeholder-…" }
 * const headers = await store.headersFor("api.anthropic.com", 443, "/v1/messages");
 * ```
 */
export class CredentialStore {
  readonly #entries: Entry[];
  readonly #options: CredentialStoreOptions;

  constructor(specs: readonly CredentialSpec[], options: CredentialStoreOptions = {}) {
    this.#options = options;
    this.#entries = specs.map((spec) => ({ spec, placeholder: placeholder() }));
  }

  /** Guest environment: each credential's placeholder under the variables its tools read. */
  guestEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const { spec, placeholder } of this.#entries) {
      for (const name of spec.guestEnv) env[name] = placeholder;
    }
    return env;
  }

  /** Whether any credential is bound to `host` (canonical name). */
  has(host: string): boolean {
    return this.#entries.some((e) => e.spec.host === host);
  }

  /**
   * The headers to set on an HTTPS request to `host:port` with normalised `path`. Rejects with
   * {@linkcode CredentialError} when a secret cannot be read.
   */
  async headersFor(host: string, port: number, path: string): Promise<InjectedHeader[]> {
    const out: InjectedHeader[] = [];
    for (const entry of this.#entries) {
      const { spec } = entry;
      if (spec.host !== host || spec.port !== port) continue;
      // Every reading: `/mine/..%2Fother` is `/other` to an upstream that decodes `%2F`.
      if (spec.path && !matchesEveryReading(spec.path, "*", path)) continue;
      const secret = await this.#secret(entry);
      const value = spec.scheme ? `${spec.scheme} ${secret}` : secret;
      out.push({ name: spec.header, value, secret });
    }
    return out;
  }

  #secret(entry: Entry): Promise<string> {
    const now = (this.#options.now ?? Date.now)();
    if (entry.cached && now < entry.cached.expiresAt) return entry.cached.value;
    const ttl = entry.spec.secret.kind === "env" ? Infinity : entry.spec.secret.ttlMs;
    const value = readSecret(entry.spec.secret, this.#options).catch((err) => {
      if (entry.cached?.value === value) entry.cached = undefined;
      throw err instanceof CredentialError ? err : new CredentialError("unavailable", String(err));
    });
    entry.cached = { value, expiresAt: now + ttl };
    return value;
  }
}

/** `agentbox-placeholder-` and 32 random hex digits: useless anywhere but through this proxy. */
function placeholder(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `agentbox-placeholder-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
