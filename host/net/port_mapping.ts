/**
 * A port forward as the user writes it — `[HOST_ADDR:]HOST_PORT:GUEST_PORT`, as docker's
 * `-p` — parsed into a {@linkcode PortMapping}. The host address is loopback unless one is
 * named: a forward serves the user who opened it, not the network.
 *
 * @module
 */

import { UsageError } from "../agentbox_error.ts";
import { parseIp } from "./ip_address.ts";

/** Where a forward listens on the host, and the guest port it reaches. */
export interface PortMapping {
  /** An IP address of the host (default 127.0.0.1). */
  hostname: string;
  /** 0: any free port. */
  hostPort: number;
  guestPort: number;
}

/** The address a forward listens on when none is named. */
export const DEFAULT_FORWARD_ADDRESS = "127.0.0.1";

const FORM = "[HOST_ADDR:]HOST_PORT:GUEST_PORT (e.g. 8080:80, 127.0.0.1:0:3000, [::1]:8080:80)";

function port(text: string, what: string, min: number, value: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new UsageError(
      `Invalid port forward ${JSON.stringify(value)}: ${what} must be a port number ` +
        `${min}-65535; the form is ${FORM}`,
      { code: "port_mapping_invalid" },
    );
  }
  return Number(text);
}

/**
 * Parse `value` (`[HOST_ADDR:]HOST_PORT:GUEST_PORT`; an IPv6 address in brackets). Throws a
 * `UsageError` (`port_mapping_invalid`) saying what is wrong.
 *
 * @example
 * ```ts
 * import { parsePortMapping } from "./port_mapping.ts";
 * const m = parsePortMapping("8080:80");
 * console.assert(m.hostname === "127.0.0.1" && m.hostPort === 8080 && m.guestPort === 80);
 * console.assert(parsePortMapping("[::1]:0:3000").hostname === "::1");
 * ```
 */
export function parsePortMapping(value: string): PortMapping {
  const bracketed = /^\[([^\]]+)\]:([^:]*):([^:]*)$/.exec(value);
  const parts = bracketed ? bracketed.slice(1) : value.split(":");
  if (parts.length === 2) parts.unshift(DEFAULT_FORWARD_ADDRESS);
  if (parts.length !== 3) {
    throw new UsageError(`Invalid port forward ${JSON.stringify(value)}: the form is ${FORM}`, {
      code: "port_mapping_invalid",
    });
  }
  const [hostname, hostPort, guestPort] = parts;
  if (parseIp(hostname) === undefined) {
    throw new UsageError(
      `Invalid port forward ${JSON.stringify(value)}: ${JSON.stringify(hostname)} is not an IP ` +
        `address; the form is ${FORM}`,
      { code: "port_mapping_invalid" },
    );
  }
  return {
    hostname,
    hostPort: port(hostPort, "the host port", 0, value),
    guestPort: port(guestPort, "the guest port", 1, value),
  };
}

/**
 * How a listening forward is written for the user: `127.0.0.1:8080`, `[::1]:8080`.
 *
 * @example
 * ```ts
 * import { formatForwardAddress } from "./port_mapping.ts";
 * console.assert(formatForwardAddress("::1", 80) === "[::1]:80");
 * ```
 */
export function formatForwardAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
