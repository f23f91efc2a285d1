/**
 * The one error an invalid configuration produces.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";

/** Where in which file a configuration problem sits. */
export interface ConfigLocation {
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** Dotted key, e.g. `network.allow`, when known. */
  key?: string;
}

/**
 * An invalid configuration: the message names the file, the line and the key, e.g.
 * `Invalid configuration: /p/.agentbox.toml line 3, key network.allow: "*.com" is too broad`.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./config_error.ts";
 * const err = new ConfigError({ file: ".agentbox.toml", line: 2, key: "network.mode" }, "unknown mode");
 * console.assert(err.message.includes("line 2, key network.mode"));
 * ```
 */
export class ConfigError extends AgentboxError {
  readonly location: ConfigLocation;

  constructor(location: ConfigLocation, detail: string, options?: ErrorOptions) {
    super(`Invalid configuration: ${describe(location)}: ${detail}`, {
      ...options,
      kind: "usage",
      code: "config_invalid",
    });
    this.name = "ConfigError";
    this.location = location;
  }
}

function describe(l: ConfigLocation): string {
  return [l.file, l.line && `line ${l.line}`, l.key && `key ${l.key}`].filter(Boolean).join(", ")
    .replace(", line", " line");
}
