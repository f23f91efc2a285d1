/**
 * The syslog audit sink: RFC 5424 messages (syslog_format.ts) to the local syslog socket (a unix
 * datagram socket such as `/dev/log`), or to a collector over UDP (one message per datagram) or
 * TCP (octet-counting framing, RFC 6587; reconnected when the connection breaks).
 *
 * @module
 */

import { isIP } from "node:net";
import type { AuditEvent } from "./audit_event.ts";
import { formatSyslog, octetCounted, type SyslogHeader } from "./syslog_format.ts";
import type { AuditSink } from "./sink_queue.ts";

/** Where a syslog sink sends. */
export type SyslogTarget =
  | { transport: "unix"; path: string }
  | { transport: "udp" | "tcp"; hostname: string; port: number };

/** Options of {@linkcode syslogSink}. */
export interface SyslogSinkOptions extends SyslogHeader {
  target: SyslogTarget;
}

/**
 * The target as a URL-like text for messages: `unix:/dev/log`, `udp://host:514`.
 *
 * @example
 * ```ts
 * import { describeTarget } from "./syslog_sink.ts";
 * console.assert(describeTarget({ transport: "tcp", hostname: "::1", port: 601 }) === "tcp://[::1]:601");
 * ```
 */
export function describeTarget(target: SyslogTarget): string {
  if (target.transport === "unix") return `unix:${target.path}`;
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  return `${target.transport}://${host}:${target.port}`;
}

/**
 * A sink sending each event as one syslog message to `options.target`.
 *
 * @example
 * ```ts ignore
 * import { syslogSink } from "./syslog_sink.ts";
 * const sink = syslogSink({ target: { transport: "unix", path: "/dev/log" }, facility: "local0" });
 * ```
 */
export function syslogSink(options: SyslogSinkOptions): AuditSink {
  const { target } = options;
  const header: SyslogHeader = {
    facility: options.facility,
    hostname: options.hostname ?? Deno.hostname(),
    appName: options.appName,
    procId: options.procId,
  };
  const send = target.transport === "tcp"
    ? tcpSender(target.hostname, target.port)
    : datagramSender(target);
  const encoder = new TextEncoder();
  return {
    name: `syslog ${describeTarget(target)}`,
    async deliver(batch: readonly AuditEvent[]) {
      for (const event of batch) {
        const message = formatSyslog(event, header);
        await send.send(
          target.transport === "tcp" ? octetCounted(message) : encoder.encode(message),
        );
      }
    },
    close: () => send.close(),
  };
}

interface Sender {
  send(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Unix datagram or UDP: one socket of our own, opened on first use. */
function datagramSender(target: SyslogTarget): Sender {
  let socket: Deno.DatagramConn | undefined;
  let ownDir: string | undefined;
  let to: Deno.Addr | undefined;
  const open = async (): Promise<Deno.DatagramConn> => {
    if (target.transport === "unix") {
      // Sending needs a bound socket: bound in a private directory of our own.
      ownDir = await Deno.makeTempDir({ prefix: "agentbox-audit-" });
      to = { transport: "unixpacket", path: target.path };
      return Deno.listenDatagram({ transport: "unixpacket", path: `${ownDir}/s` });
    }
    const hostname = await resolveOnce(target.hostname);
    to = { transport: "udp", hostname, port: target.port };
    return Deno.listenDatagram({
      transport: "udp",
      hostname: hostname.includes(":") ? "::" : "0.0.0.0",
      port: 0,
    });
  };
  return {
    async send(bytes) {
      socket ??= await open();
      await socket.send(bytes, to!);
    },
    async close() {
      socket?.close();
      socket = undefined;
      if (ownDir) await Deno.remove(ownDir, { recursive: true }).catch(() => {});
      ownDir = undefined;
    },
  };
}

/** TCP: one connection, reopened after a failure. */
function tcpSender(hostname: string, port: number): Sender {
  let conn: Deno.TcpConn | undefined;
  return {
    async send(bytes) {
      try {
        conn ??= await Deno.connect({ hostname, port });
        let at = 0;
        while (at < bytes.length) at += await conn.write(bytes.subarray(at));
      } catch (error) {
        try {
          conn?.close();
        } catch { /* already closed */ }
        conn = undefined;
        throw error;
      }
    },
    close() {
      try {
        conn?.close();
      } catch { /* already closed */ }
      conn = undefined;
      return Promise.resolve();
    },
  };
}

/** An IP literal as is; a name resolved once (A, then AAAA). */
async function resolveOnce(hostname: string): Promise<string> {
  if (isIP(hostname)) return hostname;
  const v4 = await Deno.resolveDns(hostname, "A").catch(() => []);
  if (v4.length > 0) return v4[0];
  const v6 = await Deno.resolveDns(hostname, "AAAA").catch(() => []);
  if (v6.length > 0) return v6[0];
  throw new Error(`cannot resolve ${hostname}`);
}
