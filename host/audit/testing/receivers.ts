/**
 * Real receivers for the audit sinks, for tests and the benchmark: a syslog server on a unix
 * datagram socket (as `/dev/log`), on UDP and on TCP (octet-counting framing), and an OTLP/HTTP
 * logs collector (Deno.serve on 127.0.0.1). Each keeps what it received.
 *
 * @module
 */

/** What a receiver got, and how to stop it. */
export interface Receiver<T> extends AsyncDisposable {
  received: T[];
  /** Resolves once `count` items were received. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function collector<T>(close: () => Promise<void>): Receiver<T> & { add(item: T): void } {
  const received: T[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  return {
    received,
    add(item) {
      received.push(item);
      waiters = waiters.filter((w) => {
        if (received.length < w.count) return true;
        w.resolve();
        return false;
      });
    },
    waitFor(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve();
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(
        () => reject(new Error(`received ${received.length} of ${count} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      return promise;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

const decoder = new TextDecoder();

/** A syslog server on the unix datagram socket `path` (one message per datagram). */
export function unixSyslogReceiver(path: string): Receiver<string> {
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  let done: Promise<void> = Promise.resolve();
  const receiver = collector<string>(async () => {
    socket.close();
    await done;
    await Deno.remove(path).catch(() => {});
  });
  done = (async () => {
    try {
      for await (const [data] of socket) receiver.add(decoder.decode(data));
    } catch { /* closed */ }
  })();
  return receiver;
}

/** A syslog server on UDP, 127.0.0.1, a free port. */
export function udpSyslogReceiver(): Receiver<string> & { port: number } {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let done: Promise<void> = Promise.resolve();
  const receiver = collector<string>(async () => {
    socket.close();
    await done;
  });
  done = (async () => {
    try {
      for await (const [data] of socket) receiver.add(decoder.decode(data));
    } catch { /* closed */ }
  })();
  return Object.assign(receiver, { port: (socket.addr as Deno.NetAddr).port });
}

/** A syslog server on TCP, 127.0.0.1, a free port, reading octet-counted frames. */
export function tcpSyslogReceiver(): Receiver<string> & { port: number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const receiver = collector<string>(async () => {
    listener.close();
    for (const conn of conns) conn.close();
    await Promise.allSettled(tasks);
  });
  const serve = async (conn: Deno.Conn) => {
    let buffer = new Uint8Array(0);
    try {
      for await (const chunk of conn.readable) {
        const joined = new Uint8Array(buffer.length + chunk.length);
        joined.set(buffer);
        joined.set(chunk, buffer.length);
        buffer = joined;
        while (true) {
          const space = buffer.indexOf(0x20);
          if (space < 0) break;
          const length = Number(decoder.decode(buffer.subarray(0, space)));
          if (!Number.isInteger(length)) throw new Error("bad frame");
          if (buffer.length < space + 1 + length) break;
          receiver.add(decoder.decode(buffer.subarray(space + 1, space + 1 + length)));
          buffer = buffer.slice(space + 1 + length);
        }
      }
    } catch { /* closed */ }
  };
  tasks.push((async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        tasks.push(serve(conn));
      }
    } catch { /* closed */ }
  })());
  return Object.assign(receiver, { port: (listener.addr as Deno.NetAddr).port });
}

/** One log record as the collector received it (the parts tests look at). */
export interface ReceivedLogRecord {
  eventName?: string;
  timeUnixNano: string;
  severityNumber: number;
  body: unknown;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/**
 * An OTLP/HTTP logs collector on 127.0.0.1: `POST /v1/logs` with JSON. `status` decides the
 * answer (default 200), so a test can make it refuse.
 */
export function otlpReceiver(
  options: { status?: () => number } = {},
): Receiver<ReceivedLogRecord> & { endpoint: string; requests(): number } {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/logs") {
      return new Response("not found", { status: 404 });
    }
    if (req.headers.get("content-type") !== "application/json") {
      return new Response("json only", { status: 415 });
    }
    requests++;
    const status = options.status?.() ?? 200;
    const body = await req.json();
    if (status !== 200) return new Response("no", { status });
    for (const resource of body.resourceLogs) {
      for (const scope of resource.scopeLogs) {
        for (const record of scope.logRecords) receiver.add(record);
      }
    }
    return Response.json({});
  });
  const receiver = collector<ReceivedLogRecord>(() => server.shutdown());
  return Object.assign(receiver, {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    requests: () => requests,
  });
}

/**
 * The audit event carried by a syslog message (its MSG: JSON after the BOM).
 *
 * @example
 * ```ts
 * import { syslogEvent } from "./receivers.ts";
 * console.assert(syslogEvent('<14>1 - - - - - - \uFEFF{"a":1}').a === 1);
 * ```
 */
export function syslogEvent(message: string): Record<string, unknown> {
  const at = message.indexOf("\uFEFF");
  if (at < 0) throw new Error(`no BOM-prefixed MSG in ${message.slice(0, 200)}`);
  return JSON.parse(message.slice(at + 1));
}

/**
 * The `kvlistValue` body of an OTLP log record back as plain JSON data.
 *
 * @example
 * ```ts
 * import { fromAnyValue } from "./receivers.ts";
 * console.assert(fromAnyValue({ intValue: "3" }) === 3);
 * ```
 */
export function fromAnyValue(value: unknown): unknown {
  const v = value as Record<string, unknown>;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("arrayValue" in v) {
    return ((v.arrayValue as { values?: unknown[] }).values ?? []).map(fromAnyValue);
  }
  if ("kvlistValue" in v) {
    const entries = (v.kvlistValue as { values?: { key: string; value: unknown }[] }).values ?? [];
    return Object.fromEntries(entries.map((e) => [e.key, fromAnyValue(e.value)]));
  }
  return null;
}
