/**
 * `agentbox serve`: run the REST API (host/serve/) until SIGINT or SIGTERM, on the owner-only unix
 * socket and optionally on a TCP address with a bearer token; `agentbox serve token` prints,
 * makes or rotates a token; `agentbox serve openapi` prints the API's OpenAPI document.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import {
  DEFAULT_TOKEN_NAME,
  ensureToken,
  readTokens,
  revokeToken,
  tokenFilePath,
  tokenName,
} from "../api/serve_tokens.ts";
import { DEFAULT_LIMITS, openApiInfo, serveApp } from "../serve/app.ts";
import { WarmPool } from "../api/warm_pool.ts";
import { StandbyOwners } from "../api/standby.ts";

/** Warm VMs `agentbox serve` keeps ready unless `--pool` says otherwise. */
export const DEFAULT_POOL_SIZE = 2;
/** Standby session owners `agentbox serve` keeps unless `--pool-sessions` says otherwise. */
export const DEFAULT_POOL_SESSIONS = 1;
const MAX_POOL_SIZE = 64;
import {
  defaultSocketPath,
  listenOnSocket,
  listenOnTcp,
  parseListenAddress,
} from "../serve/listen.ts";
import { DEFAULT_E2B_API, DEFAULT_E2B_ENVD } from "../serve/e2b/addresses.ts";
import type { E2bServer } from "../serve/e2b/mod.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";
import { printEvent } from "./print_event.ts";
import { netBackendChoice } from "./net_options.ts";

/** Help text of `agentbox serve`. */
export const SERVE_HELP = `Serve the REST API: sandboxes, commands, files, changes, snapshots.

Usage: agentbox serve [--listen HOST:PORT [--tls-cert FILE --tls-key FILE]] [options]
       agentbox serve --e2b [--e2b-api HOST:PORT] [--e2b-envd HOST:PORT] [--e2b-share DIR]
       agentbox serve token [--name NAME] [--rotate | --revoke]
       agentbox serve openapi

The server listens on a unix socket only you can open (default
$XDG_RUNTIME_DIR/agentbox/serve.sock); with --listen also on a TCP address, where every request
must carry \`Authorization: Bearer TOKEN\` (a token is made on first use: \`agentbox serve token\`
prints it). Sandboxes it starts are ordinary sessions: \`agentbox ps\` lists them and the CLI can
attach to, diff and stop them; they keep running when the server stops. The API is described at
/openapi.json and in docs/api.md.

Options:
  --listen HOST:PORT    also listen on this TCP address (token required)
  --tls-cert FILE       serve TCP over TLS with this PEM certificate (with --tls-key)
  --tls-key FILE        the certificate's PEM private key
  --socket PATH         the unix socket (default: serve.sock in the runtime directory)
  --max-sandboxes N     running sandboxes one client (token) may have (default ${DEFAULT_LIMITS.sandboxesPerClient})
  --max-upload BYTES    largest file upload (default ${DEFAULT_LIMITS.uploadBytes})
  --pool N              keep N paused VMs of the default image ready for \`agentbox exec\`
                        (default ${DEFAULT_POOL_SIZE}; 0: no warm pool; docs/serve.md, "Warm pool")
  --pool-backend B      the warm VMs' network backend: auto, tap or user (default: the
                        configuration's network.backend, as a session resolves it)
  --pool-sessions N     keep N standby session owners, each with a warm VM, for the sandboxes
                        clients create (default ${DEFAULT_POOL_SESSIONS}; 0: none; docs/serve.md)
  --e2b                 also serve E2B's API and envd, for unchanged code using the e2b SDK
                        (docs/e2b.md): E2B_API_KEY is a serve token; the lines to export are
                        printed at start
  --e2b-api HOST:PORT   E2B's control API, E2B_API_URL (default ${DEFAULT_E2B_API.hostname}:${DEFAULT_E2B_API.port})
  --e2b-envd HOST:PORT  E2B's envd for every sandbox, E2B_SANDBOX_URL (default ${DEFAULT_E2B_ENVD.hostname}:${DEFAULT_E2B_ENVD.port})
  --e2b-share DIR       share DIR at /workspace in every E2B sandbox (default: an empty directory
                        of its own each, so \`agentbox diff\` shows what it wrote there)
  -v, --verbose         print the causes of an error
  -h, --help            show this help

Subcommands:
  token    print the token NAME (default "default"), making it if missing; --rotate replaces
           its secret, --revoke removes it
  openapi  print the OpenAPI 3.1 document on stdout

Exit status: 0 stopped by SIGINT or SIGTERM, 125 usage error.`;

/**
 * Run `agentbox serve ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { serveCommand } from "./serve.ts";
 * await serveCommand(["--listen", "127.0.0.1:7070"]);
 * ```
 */
export async function serveCommand(args: string[]): Promise<number> {
  if (args[0] === "token") return await tokenCommand(args.slice(1));
  if (args[0] === "openapi") return openapiCommand(args.slice(1));
  const { values, positionals } = parseCommandArgs("serve", args, {
    listen: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    socket: { type: "string" },
    "max-sandboxes": { type: "string" },
    "max-upload": { type: "string" },
    pool: { type: "string" },
    "pool-backend": { type: "string" },
    "pool-sessions": { type: "string" },
    e2b: { type: "boolean" },
    "e2b-api": { type: "string" },
    "e2b-envd": { type: "string" },
    "e2b-share": { type: "string" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(
      `Unknown subcommand ${JSON.stringify(positionals[0])}: see \`agentbox serve --help\``,
    );
  }
  const certFile = values["tls-cert"] as string | undefined;
  const keyFile = values["tls-key"] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (certFile !== undefined && values.listen === undefined) {
    throw new UsageError("--tls-cert needs --listen HOST:PORT (the unix socket has no TLS)");
  }
  const tcp = values.listen === undefined ? undefined : parseListenAddress(values.listen as string);
  const e2b = values.e2b ? await e2bOptions(values) : undefined;
  if (!values.e2b && ["e2b-api", "e2b-envd", "e2b-share"].some((k) => values[k] !== undefined)) {
    throw new UsageError("--e2b-api, --e2b-envd and --e2b-share go with --e2b");
  }
  const limits = {
    sandboxesPerClient: positiveInt(
      "serve",
      "max-sandboxes",
      values["max-sandboxes"],
      DEFAULT_LIMITS.sandboxesPerClient,
      1000,
    ),
    uploadBytes: positiveInt(
      "serve",
      "max-upload",
      values["max-upload"],
      DEFAULT_LIMITS.uploadBytes,
    ),
  };
  const poolSize = values.pool === undefined
    ? DEFAULT_POOL_SIZE
    : positiveInt("serve", "pool", values.pool, DEFAULT_POOL_SIZE, MAX_POOL_SIZE, 0);
  const standbySize = values["pool-sessions"] === undefined
    ? DEFAULT_POOL_SESSIONS
    : positiveInt("serve", "pool-sessions", values["pool-sessions"], 1, MAX_POOL_SIZE, 0);
  if (tcp || e2b) {
    // Made on first use; a token file that cannot be read or made stops the server here.
    await ensureToken(DEFAULT_TOKEN_NAME);
  }
  // Awaited at the end, so that the audit log drains before the server exits.
  await using ctx = openContext({ onEvent: printEvent });
  const who = `local:${Deno.env.get("USER") ?? Deno.uid()}`;
  const stop = new AbortController();
  const defaultProject = Deno.cwd();
  const pool = new WarmPool(ctx, {
    size: poolSize,
    backend: values["pool-backend"] === undefined
      ? undefined
      : netBackendChoice(values["pool-backend"], "--pool-backend"),
  });
  const standby = new StandbyOwners(ctx, { size: standbySize });
  const local = serveApp({
    ctx,
    auth: { kind: "socket", who },
    limits,
    defaultProject,
    pool,
    standby,
  });
  const socketPath = (values.socket as string | undefined) ?? defaultSocketPath();
  const servers: Deno.HttpServer[] = [
    await listenOnSocket(socketPath, local.app.fetch, stop.signal),
  ];
  console.error(`agentbox: serving on unix:${escapeControls(socketPath)}`);
  const registries = [local.registry];
  pool.start();
  standby.start();
  if (tcp) {
    const remote = serveApp({
      ctx,
      auth: { kind: "token", tokens: () => readTokens() },
      limits,
      defaultProject,
      standby,
    });
    registries.push(remote.registry);
    const tls = certFile && keyFile ? { certFile, keyFile } : undefined;
    const server = await listenOnTcp(tcp, remote.app.fetch, tls, stop.signal);
    servers.push(server);
    const host = tcp.hostname.includes(":") ? `[${tcp.hostname}]` : tcp.hostname;
    console.error(
      `agentbox: serving on ${tls ? "https" : "http"}://${host}:${server.addr.port} ` +
        `(bearer token: \`agentbox serve token\`, stored in ${tokenFilePath()})`,
    );
  }
  let e2bServer: E2bServer | undefined;
  if (e2b) {
    // Loaded only here: the E2B endpoints bring Connect and protobuf along.
    const { startE2bServer } = await import("../serve/e2b/mod.ts");
    e2bServer = await startE2bServer(ctx, {
      ...e2b,
      maxSandboxes: limits.sandboxesPerClient,
      maxUploadBytes: limits.uploadBytes,
      authenticate: async (key) => tokenName(await readTokens(), key) !== undefined,
    });
    // What the E2B SDK needs, ready to paste.
    console.error(
      "agentbox: serving E2B's API and envd (docs/e2b.md); for the e2b SDK:\n" +
        `export E2B_API_URL=${e2bServer.apiUrl}\n` +
        `export E2B_SANDBOX_URL=${e2bServer.sandboxUrl}\n` +
        'export E2B_API_KEY="$(agentbox serve token)"',
    );
  }
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => {
      console.error("agentbox: stopping the server (its sandboxes keep running)");
      resolve();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  });
  await stopped;
  // E2B sandboxes live only as long as the server that keeps their timeouts: stopped here.
  if (e2bServer) console.error("agentbox: stopping the E2B sandboxes");
  await e2bServer?.close();
  for (const registry of registries) registry.close();
  stop.abort();
  await Promise.all(servers.map((s) => s.finished));
  // Warm VMs die with the server (they are its QEMU children either way): stop them cleanly.
  await Promise.all([pool.close(), standby.close()]);
  await Deno.remove(socketPath).catch(() => {});
  return 0;
}

/** The E2B endpoints' options from the flags. */
async function e2bOptions(values: Record<string, unknown>) {
  const address = (flag: string) => {
    const text = values[flag] as string | undefined;
    if (text === undefined) return undefined;
    try {
      return parseListenAddress(text);
    } catch {
      throw new UsageError(
        `--${flag} ${JSON.stringify(text)}: expected HOST:PORT, e.g. 127.0.0.1:3000`,
      );
    }
  };
  let share = values["e2b-share"] as string | undefined;
  if (share !== undefined) {
    const info = await Deno.stat(share).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new UsageError(`--e2b-share ${JSON.stringify(share)}: not a directory`);
    }
    share = await Deno.realPath(share);
  }
  return { api: address("e2b-api"), envd: address("e2b-envd"), share };
}

async function tokenCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("serve token", args, {
    name: { type: "string" },
    rotate: { type: "boolean" },
    revoke: { type: "boolean" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError("`agentbox serve token` takes no arguments");
  if (values.rotate && values.revoke) {
    throw new UsageError("--rotate and --revoke cannot be used together");
  }
  const name = (values.name as string | undefined) ?? DEFAULT_TOKEN_NAME;
  if (values.revoke) {
    if (!await revokeToken(name)) {
      throw new UsageError(`No token named ${JSON.stringify(name)}`, { code: "token_unknown" });
    }
    console.error(`agentbox: token ${name} revoked`);
    return 0;
  }
  const token = await ensureToken(name, { rotate: !!values.rotate });
  console.log(token.token);
  return 0;
}

function openapiCommand(args: string[]): number {
  if (args.length === 1 && ["-h", "--help"].includes(args[0])) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (args.length > 0) throw new UsageError("`agentbox serve openapi` takes no arguments");
  console.log(JSON.stringify(openApiDocument(), null, 2));
  return 0;
}

/**
 * The OpenAPI document of the API, built from the routes without serving anything.
 *
 * @example
 * ```ts ignore
 * import { openApiDocument } from "./serve.ts";
 * console.log(Object.keys(openApiDocument().paths ?? {}));
 * ```
 */
export function openApiDocument() {
  using ctx = openContext({ db: undefined });
  const { app, registry } = serveApp({
    ctx,
    auth: { kind: "socket", who: "doc" },
    defaultProject: "/",
  });
  registry.close();
  return app.getOpenAPI31Document(openApiInfo());
}
