/**
 * `agentbox port SESSION GUEST_PORT [[HOST_ADDR:]HOST_PORT]`: print where a running session's
 * guest port is reachable on the host, opening a forward when it has none. Parse → call
 * api/ports.ts → render.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { forwardSessionPort } from "../api/ports.ts";
import { formatForwardAddress, parsePortMapping } from "../api/spec_vocabulary.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox port`. */
export const PORT_HELP = `Forward a host port into a running session, and print where it listens.

Usage: agentbox port SESSION GUEST_PORT [[HOST_ADDR:]HOST_PORT]

Prints HOST:PORT where connections reach GUEST_PORT on the guest's loopback: the forward the
session has for GUEST_PORT (from \`run -p\` or an earlier \`port\`), or a new one on a free port
of 127.0.0.1. With HOST_PORT, a new forward listens there (0: any free port), on 127.0.0.1
unless HOST_ADDR names another address of this host ([::1] for IPv6).

The session's owner listens and carries each connection into the guest over the agent channel;
the guest gets no new way out. The forward lives as long as the session: \`agentbox stop\` ends
it.

Options:
  --verbose      print the causes of an error
  -h, --help     show this help

Exit status: 0 forwarding, 125 usage error or unknown session, 126 the host port cannot be
used (taken, or not an address of this host).`;

/**
 * Run `agentbox port ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { portCommand } from "./port.ts";
 * await portCommand(["web", "8000"]);
 * ```
 */
export async function portCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("port", args, {
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(PORT_HELP);
    return 0;
  }
  if (positionals.length < 2 || positionals.length > 3) {
    throw new UsageError(
      "Name a session and a guest port: usage is `agentbox port SESSION GUEST_PORT " +
        "[[HOST_ADDR:]HOST_PORT]`",
    );
  }
  const [session, guest, host] = positionals;
  const mapping = parsePortMapping(`${host ?? "0"}:${guest}`);
  await using ctx = openContext();
  const forward = await forwardSessionPort(ctx, {
    session,
    guestPort: mapping.guestPort,
    ...(host === undefined ? {} : { hostname: mapping.hostname, hostPort: mapping.hostPort }),
  });
  console.log(formatForwardAddress(forward.hostname, forward.hostPort));
  return 0;
}
