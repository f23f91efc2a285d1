/**
 * Everything a proxy listener needs to decide, dial and record, with defaults in one place.
 *
 * @module
 */

import type { Policy } from "../config/policy.ts";
import { type Dialer, directDialer } from "../net/dialer.ts";
import { type Resolver, systemResolver } from "../net/resolver.ts";
import type { TlsInspection } from "../tls/tls_inspection.ts";
import type { Admission, ConnectionBudget } from "./admission.ts";
import type { InspectEndpoints } from "./inspect_endpoints.ts";
import type { RequestRecorder } from "./recorder.ts";

/** A graylisted destination waiting for a human decision. */
export interface ApprovalRequest {
  host: string;
  port: number;
  /** The graylist rule that matched. */
  rule: string;
}

/** Options of `startProxy`. Only `policy` and `recorder` are required. */
export interface ProxyOptions {
  policy: Policy;
  recorder: RequestRecorder;
  /** Where to listen; default 127.0.0.1 on a free port. */
  hostname?: string;
  port?: number;
  /**
   * A listener bound earlier (a warm VM's, bound before its QEMU started: see
   * egress/egress_link.ts); `hostname` and `port` are ignored then. The proxy closes it.
   */
  listener?: Deno.TcpListener;
  /**
   * `forward` (default): HTTP proxy protocol — absolute-URI requests and CONNECT.
   * `transparent`: the client thinks it talks to the origin; the destination name comes from
   * TLS SNI or the Host header.
   */
  mode?: "forward" | "transparent";
  /** Destination port assumed for transparent TLS (default 443). */
  transparentTlsPort?: number;
  /** The tool the session runs, for the per-tool allowlist. */
  tool?: string;
  /** Host-side name resolution; tests inject answers. Default: the system resolver. */
  resolver?: Resolver;
  /** Dials vetted addresses; tests map them onto loopback servers. Default: direct. */
  dialer?: Dialer;
  /** Graylist decisions; default denies (no TTY to ask on). */
  approve?: (request: ApprovalRequest) => Promise<boolean>;
  /** Most connections open at once (default 4096); more are closed on accept. */
  maxConnections?: number;
  /**
   * Serve only the session's guest (see admission.ts): its relay's key first, or its source
   * address. Default: whoever connects (tests and benchmarks of the proxy alone).
   */
  admission?: Admission;
  /**
   * Admitted connections open at once, shared with the session's other listener; beyond it a
   * connection is answered `503` and closed. Default: no budget beyond `maxConnections`.
   */
  budget?: ConnectionBudget;
  /** Time allowed for a request head, also the keep-alive idle time (default 30 s). */
  headTimeoutMs?: number;
  /** Time allowed for the TLS ClientHello after CONNECT (default 10 s). */
  helloTimeoutMs?: number;
  /** Called with failures that cannot be reported to a client (e.g. finishing a log row). */
  onWarning?: (error: unknown) => void;
  /**
   * TLS inspection (`createTlsInspection`): tunnels to the hosts it covers are decrypted and
   * their requests go through the HTTP app. Without it, a host whose request rules, rewrites or
   * credentials need inspection is refused.
   */
  inspect?: TlsInspection;
}

/** {@linkcode ProxyOptions} with every default filled in. */
export type ProxyContext =
  & Required<
    Omit<
      ProxyOptions,
      "hostname" | "port" | "listener" | "tool" | "inspect" | "admission" | "budget"
    >
  >
  & {
    tool?: string;
    inspect?: TlsInspection;
    admission?: Admission;
    budget?: ConnectionBudget;
    /** The listener's loopback TLS endpoints, set by `startProxy` when `inspect` is. */
    endpoints?: InspectEndpoints;
  };

/**
 * Fill in defaults.
 *
 * @example
 * ```ts
 * import { proxyContext } from "./proxy_context.ts";
 * import { emptyPolicy } from "../config/policy.ts";
 * const ctx = proxyContext({ policy: emptyPolicy(), recorder: { begin: () => 0, finish() {} } });
 * console.assert(ctx.headTimeoutMs === 30_000);
 * ```
 */
export function proxyContext(options: ProxyOptions): ProxyContext {
  return {
    policy: options.policy,
    recorder: options.recorder,
    mode: options.mode ?? "forward",
    transparentTlsPort: options.transparentTlsPort ?? 443,
    tool: options.tool,
    resolver: options.resolver ?? systemResolver,
    dialer: options.dialer ?? directDialer,
    approve: options.approve ?? (() => Promise.resolve(false)),
    maxConnections: options.maxConnections ?? 4096,
    headTimeoutMs: options.headTimeoutMs ?? 30_000,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    onWarning: options.onWarning ?? (() => {}),
    inspect: options.inspect,
    admission: options.admission,
    budget: options.budget,
  };
}
