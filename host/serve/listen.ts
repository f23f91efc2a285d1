/**
 * Where the server listens: a unix socket in the runtime directory that only its owner can open
 * (always), and optionally a TCP address — with TLS when given a certificate — whose clients must
 * present a bearer token.
 *
 * @module
 */

import { UsageError } from "../api/errors.ts";
import { runtimeDir } from "../paths.ts";

/** The default socket: `<runtime>/serve.sock`. */
export function defaultSocketPath(): string {
  return `${runtimeDir()}/serve.sock`;
}

/** A TCP address to listen on. */
export interface TcpAddress {
  hostname: string;
  port: number;
}

/**
 * Parse `HOST:PORT` (`[::1]:8080` for IPv6).
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "./listen.ts";
 * console.assert(parseListenAddress("127.0.0.1:7070").port === 7070);
 * console.assert(parseListenAddress("[::1]:0").hostname === "::1");
 * ```
 */
export function parseListenAddress(text: string): TcpAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new UsageError(
      `--listen ${JSON.stringify(text)}: expected HOST:PORT, e.g. 127.0.0.1:7070`,
    );
  }
  return { hostname: match[1] ?? match[2], port };
}

/**
 * Serve `handler` on the unix socket `path`, made so that only this user can connect (mode 0600
 * in a private directory). A socket left by a server that is gone is replaced; a live one is not.
 *
 * @example
 * ```ts ignore
 * import { listenOnSocket } from "./listen.ts";
 * const server = await listenOnSocket("/run/user/1000/agentbox/serve.sock", app.fetch);
 * ```
 */
export async function listenOnSocket(
  path: string,
  handler: Deno.ServeHandler,
  signal?: AbortSignal,
): Promise<Deno.HttpServer<Deno.UnixAddr>> {
  const info = await Deno.lstat(path).catch(() => undefined);
  if (info) {
    if (!info.isSocket) {
      throw new UsageError(`${path} exists and is not a socket: remove it or pass --socket PATH`, {
        code: "socket_in_use",
      });
    }
    const live = await Deno.connect({ transport: "unix", path }).then((c) => {
      c.close();
      return true;
    }, () => false);
    if (live) {
      throw new UsageError(`A server is already listening on ${path}: stop it first`, {
        code: "socket_in_use",
      });
    }
    await Deno.remove(path);
  }
  // The directory is private (runtimeDir checks it), so the moment before chmod exposes nothing.
  const server = Deno.serve({ path, signal, onListen: () => {} }, handler);
  await Deno.chmod(path, 0o600);
  return server;
}

/**
 * Serve `handler` on `address`, over TLS when `tls` is given.
 *
 * @example
 * ```ts ignore
 * import { listenOnTcp } from "./listen.ts";
 * const server = await listenOnTcp({ hostname: "127.0.0.1", port: 0 }, app.fetch);
 * console.log(server.addr.port);
 * ```
 */
export async function listenOnTcp(
  address: TcpAddress,
  handler: Deno.ServeHandler,
  tls?: { certFile: string; keyFile: string },
  signal?: AbortSignal,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const files = tls
    ? {
      cert: await readPem(tls.certFile, "--tls-cert"),
      key: await readPem(tls.keyFile, "--tls-key"),
    }
    : {};
  try {
    return Deno.serve({ ...address, ...files, signal, onListen: () => {} }, handler);
  } catch (error) {
    throw new UsageError(
      `Cannot listen on ${address.hostname}:${address.port}: ${(error as Error).message}`,
      { code: "listen_failed", cause: error },
    );
  }
}

async function readPem(path: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot read it (${(error as Error).message})`, {
      cause: error,
    });
  }
}
