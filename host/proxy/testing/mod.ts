/**
 * Test fixtures for the proxy: a self-signed certificate, loopback upstreams, a resolver that
 * answers from a table and a dialer that maps vetted documentation addresses onto loopback
 * servers — so the production guard runs unchanged and no test traffic leaves the machine.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { Dialer } from "../../net/dialer.ts";
import type { Resolver } from "../../net/resolver.ts";

/** PEM certificate and key. */
export interface TestCert {
  cert: string;
  key: string;
}

/**
 * A self-signed ECDSA certificate for `names`.
 *
 * @example
 * ```ts
 * import { selfSignedCert } from "./mod.ts";
 * const { cert, key } = await selfSignedCert(["allowed.test"]);
 * ```
 */
export async function selfSignedCert(names: string[]): Promise<TestCert> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=agentbox test",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: "dns" as const, value })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const b64 = btoa(String.fromCharCode(...new Uint8Array(pkcs8))).replace(/(.{64})/g, "$1\n");
  return {
    cert: cert.toString("pem"),
    key: `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`,
  };
}

/** A resolver from a table, counting calls; `answers` may be a function of the call number. */
export interface TableResolver {
  resolver: Resolver;
  calls: Map<string, number>;
}

/**
 * Resolve from `table`; unknown names reject. A function entry receives the call number (0-based).
 *
 * @example
 * ```ts
 * import { tableResolver } from "./mod.ts";
 * const { resolver } = tableResolver({ "a.test": ["203.0.113.1"] });
 * ```
 */
export function tableResolver(
  table: Record<string, string[] | ((call: number) => string[])>,
): TableResolver {
  const calls = new Map<string, number>();
  const resolver: Resolver = (name) => {
    const n = calls.get(name) ?? 0;
    calls.set(name, n + 1);
    const entry = table[name];
    if (entry === undefined) return Promise.reject(new Error(`NXDOMAIN ${name}`));
    return Promise.resolve(typeof entry === "function" ? entry(n) : entry);
  };
  return { resolver, calls };
}

/** A dialer mapping `address:port` to a loopback port, recording every dial. */
export interface MappedDialer {
  dialer: Dialer;
  dialled: string[];
}

/**
 * Dial `127.0.0.1:<map[address:port]>`; anything not in the map fails without touching the
 * network, so a test can never reach an outside address.
 *
 * @example
 * ```ts
 * import { mappedDialer } from "./mod.ts";
 * const { dialer, dialled } = mappedDialer({ "203.0.113.1:443": 8443 });
 * ```
 */
export function mappedDialer(map: Record<string, number>): MappedDialer {
  const dialled: string[] = [];
  const dialer: Dialer = (address, port) => {
    const key = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    dialled.push(key);
    const local = map[key];
    if (local === undefined) return Promise.reject(new Error(`test dialer: no mapping for ${key}`));
    return Deno.connect({ hostname: "127.0.0.1", port: local });
  };
  return { dialer, dialled };
}

/**
 * A minimal TLS 1.2-shaped ClientHello record carrying `serverName` (or no SNI when undefined) —
 * enough for the proxy's peek, cheap enough to send a thousand times.
 *
 * @example
 * ```ts
 * import { clientHelloBytes } from "./mod.ts";
 * const hello = clientHelloBytes("allowed.test");
 * ```
 */
export function clientHelloBytes(serverName?: string): Uint8Array {
  const name = new TextEncoder().encode(serverName ?? "");
  const sni = serverName === undefined ? [] : [
    0,
    0,
    ...u16(name.length + 5),
    ...u16(name.length + 3),
    0,
    ...u16(name.length),
    ...name,
  ];
  const body = [
    3,
    3,
    ...new Array(32).fill(7),
    0,
    ...u16(2),
    0x13,
    0x01,
    1,
    0,
    ...u16(sni.length),
    ...sni,
  ];
  const handshake = [1, 0, ...u16(body.length), ...body];
  return Uint8Array.from([0x16, 3, 1, ...u16(handshake.length), ...handshake]);
}

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

/**
 * Read from `conn` until `predicate(text so far)` holds or the stream ends; returns the text.
 *
 * @example
 * ```ts
 * import { readUntilText } from "./mod.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const head = await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
 * ```
 */
export async function readUntilText(
  conn: Deno.Conn,
  predicate: (text: string) => boolean,
): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(16 * 1024);
  let text = "";
  while (!predicate(text)) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  return text;
}

/**
 * Start TLS on `conn` with `sni`, trusting `caCert`, send `payload` and read back as many bytes.
 * Returns the echoed text, or `error: …` when the handshake or the exchange fails.
 *
 * @example
 * ```ts
 * import { tlsEcho } from "./mod.ts";
 * declare const conn: Deno.TcpConn, cert: string;
 * console.log(await tlsEcho(conn, "allowed.test", cert)); // "ping"
 * ```
 */
export async function tlsEcho(
  conn: Deno.TcpConn,
  sni: string,
  caCert: string,
  payload = "ping",
): Promise<string> {
  try {
    const tls = await Deno.startTls(conn, { hostname: sni, caCerts: [caCert] });
    await tls.write(new TextEncoder().encode(payload));
    const echoed = await readUntilText(tls, (t) => t.length >= payload.length);
    tls.close();
    return echoed;
  } catch (err) {
    try {
      conn.close();
    } catch { /* closed */ }
    return `error: ${(err as Error).message}`;
  }
}
