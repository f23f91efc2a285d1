/**
 * E2B's control API (`E2B_API_URL`), the subset the `e2b` SDK needs to create, connect to, list,
 * time out and kill sandboxes. Every request carries the serve token as `X-API-KEY`
 * (`E2B_API_KEY`). Errors are E2B's `{code, message}` bodies; what agentbox does not serve (pause,
 * snapshots, fork, metrics, templates, volumes, network updates) answers 501.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { UsageError } from "../../agentbox_error.ts";
import { parseHostPattern } from "../../api/sandbox_spec.ts";
import { apiError, unsupported } from "./http_errors.ts";
import {
  type E2bCreateRequest,
  type E2bSandbox,
  type E2bSandboxes,
  ENVD_VERSION,
  MAX_TIMEOUT_SEC,
} from "./sandboxes.ts";

/** E2B's `ALL_TRAFFIC`: every address. */
const ALL_TRAFFIC = "0.0.0.0/0";

/** The timeout of a sandbox created without one, in seconds (E2B's SDK default). */
export const DEFAULT_TIMEOUT_SEC = 300;

/** The template `Sandbox.create()` asks for when given none; the default image stands in. */
const E2B_DEFAULT_TEMPLATE = "base";

const TEMPLATE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const stringRecord = z.record(z.string().max(256), z.string().max(64 * 1024));

/** `POST /v2/sandboxes`: E2B's `NewSandbox`; unknown fields are ignored, as E2B does. */
const NEW_SANDBOX = z.object({
  templateID: z.string().max(128),
  timeout: z.number().int().min(0).optional(),
  metadata: stringRecord.nullish(),
  envVars: stringRecord.nullish(),
  allow_internet_access: z.boolean().nullish(),
  network: z.object({
    allowOut: z.array(z.string().max(256)).max(1024).optional(),
    denyOut: z.array(z.string().max(256)).max(1024).optional(),
    egressProxy: z.unknown().optional(),
    rules: z.unknown().optional(),
  }).passthrough().nullish(),
  mcp: z.unknown().optional(),
  volumeMounts: z.array(z.unknown()).nullish(),
  autoPause: z.boolean().nullish(),
  autoResume: z.unknown().optional(),
});

const TIMEOUT_BODY = z.object({ timeout: z.number().int().min(0) });
const CONNECT_BODY = z.object({ timeout: z.number().int().min(0).optional() });

/** What the API app needs. */
export interface E2bApiDeps {
  sandboxes: E2bSandboxes;
  /** Whether `key` (`X-API-KEY`, the SDK's `E2B_API_KEY`) is a serve token. */
  authenticate(key: string): boolean | Promise<boolean>;
}

/**
 * The control API as a Hono app.
 *
 * @example
 * ```ts ignore
 * import { e2bApiApp } from "./api_app.ts";
 * Deno.serve({ port: 3000 }, e2bApiApp({ sandboxes, authenticate }).fetch);
 * ```
 */
export function e2bApiApp(deps: E2bApiDeps): Hono {
  const { sandboxes } = deps;
  const app = new Hono();
  app.onError((error, c) => {
    const { status, body } = error instanceof z.ZodError
      ? { status: 400, body: { code: 400, message: `Bad request: ${z.prettifyError(error)}` } }
      : apiError(error);
    return c.json(body, status as 400);
  });
  app.get("/health", (c) => c.text("ok"));
  app.use("*", async (c, next) => {
    const key = c.req.header("x-api-key");
    if (key === undefined || !await deps.authenticate(key)) {
      return c.json({ code: 401, message: "Invalid or missing X-API-KEY (the serve token)" }, 401);
    }
    await next();
  });

  const create = async (c: Context) => {
    const body = NEW_SANDBOX.parse(await c.req.json().catch(() => undefined));
    const sandbox = await sandboxes.create(createRequest(body));
    return c.json(sandboxBody(sandbox), 201);
  };
  app.post("/v2/sandboxes", create);
  app.post("/sandboxes", create);

  const list = (c: Context) => {
    const filter = metadataFilter(c.req.query("metadata"));
    const states = (c.req.query("state") ?? "running").split(",");
    const listed = states.includes("running")
      ? sandboxes.list().filter((s) =>
        Object.entries(filter).every(([k, v]) => s.metadata[k] === v)
      )
      : [];
    return c.json(listed.map(listedBody));
  };
  app.get("/v2/sandboxes", list);
  app.get("/sandboxes", list);

  app.get("/sandboxes/:id", (c) => {
    const sandbox = sandboxes.require(c.req.param("id"));
    return c.json({
      ...listedBody(sandbox),
      envdAccessToken: sandbox.accessToken,
      domain: null,
      network: sandbox.network,
    });
  });

  app.delete("/sandboxes/:id", async (c) => {
    if (!await sandboxes.kill(c.req.param("id"))) {
      return c.json({ code: 404, message: `Sandbox ${c.req.param("id")} not found` }, 404);
    }
    return c.body(null, 204);
  });

  app.post("/sandboxes/:id/timeout", async (c) => {
    const { timeout } = TIMEOUT_BODY.parse(await c.req.json().catch(() => undefined));
    sandboxes.setTimeout(c.req.param("id"), timeout);
    return c.body(null, 204);
  });

  app.post("/sandboxes/:id/refreshes", async (c) => {
    const body = await c.req.json().catch(() => ({}));
    const duration = typeof body?.duration === "number" ? body.duration : DEFAULT_TIMEOUT_SEC;
    sandboxes.setTimeout(c.req.param("id"), duration);
    return c.body(null, 204);
  });

  app.post("/v2/sandboxes/:id/connect", async (c) => {
    const { timeout } = CONNECT_BODY.parse(await c.req.json().catch(() => ({})));
    const sandbox = sandboxes.require(c.req.param("id"));
    if (timeout !== undefined) sandboxes.setTimeout(sandbox.id, timeout);
    return c.json(sandboxBody(sandbox), 200);
  });

  app.all("*", (c) => {
    throw unsupported(`${c.req.method} ${new URL(c.req.url).pathname}`);
  });
  return app;
}

/** E2B's create body in agentbox's terms. Throws `UsageError` or 501 for what is not served. */
export function createRequest(body: z.infer<typeof NEW_SANDBOX>): E2bCreateRequest {
  if (body.mcp !== undefined && body.mcp !== null) throw unsupported("MCP gateways (mcp)");
  if (body.volumeMounts && body.volumeMounts.length > 0) throw unsupported("Volume mounts");
  if (body.autoPause) throw unsupported("Pausing on timeout (lifecycle.onTimeout: 'pause')");
  if (body.network?.egressProxy !== undefined) throw unsupported("network.egressProxy");
  if (body.network?.rules !== undefined) throw unsupported("network.rules");
  const template = body.templateID === E2B_DEFAULT_TEMPLATE ? "default" : body.templateID;
  if (!TEMPLATE.test(template)) {
    throw new UsageError(`Template ${JSON.stringify(template)} is not an agentbox image name`, {
      code: "e2b_bad_template",
    });
  }
  const allow: string[] = [];
  const deny: string[] = [];
  let net: E2bCreateRequest["net"];
  for (const entry of body.network?.allowOut ?? []) {
    if (entry === ALL_TRAFFIC) net = "open";
    else allow.push(hostEntry(entry));
  }
  for (const entry of body.network?.denyOut ?? []) {
    // Everything not allowed is refused already: agentbox's policy denies by default.
    if (entry !== ALL_TRAFFIC) deny.push(hostEntry(entry));
  }
  if (body.allow_internet_access === false) net = "none";
  return {
    template,
    metadata: body.metadata ?? {},
    envs: body.envVars ?? {},
    timeoutSec: Math.min(body.timeout ?? DEFAULT_TIMEOUT_SEC, MAX_TIMEOUT_SEC),
    net,
    allow,
    deny,
    network: body.network
      ? { allowOut: body.network.allowOut, denyOut: body.network.denyOut }
      : undefined,
  };
}

/**
 * A host, an IP, or an IP/32 (the one CIDR form a host policy can say), checked as the policy
 * will read it (`bad_host_pattern`, 400), so that a bad entry starts nothing.
 */
function hostEntry(entry: string): string {
  const slash = entry.indexOf("/");
  if (slash < 0) return parseHostPattern(entry).text;
  const prefix = entry.slice(slash + 1);
  const address = entry.slice(0, slash);
  if ((prefix === "32" && !address.includes(":")) || (prefix === "128" && address.includes(":"))) {
    return parseHostPattern(address).text;
  }
  throw unsupported(`The address range ${entry} in network.allowOut/denyOut (name hosts or /32s)`);
}

/** `metadata=k%3Dv%26…` as the SDK sends it: each key and value encoded, then the pairs. */
function metadataFilter(query: string | undefined): Record<string, string> {
  if (!query) return {};
  const filter: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    try {
      filter[decodeURIComponent(k)] = decodeURIComponent(v);
    } catch {
      throw new UsageError("Bad metadata filter", { code: "e2b_bad_query" });
    }
  }
  return filter;
}

function sandboxBody(sandbox: E2bSandbox) {
  return {
    sandboxID: sandbox.id,
    templateID: sandbox.template,
    clientID: "agentbox",
    envdVersion: ENVD_VERSION,
    envdAccessToken: sandbox.accessToken,
    domain: null,
  };
}

function listedBody(sandbox: E2bSandbox) {
  return {
    sandboxID: sandbox.id,
    templateID: sandbox.template,
    clientID: "agentbox",
    startedAt: sandbox.startedAt.toISOString(),
    endAt: sandbox.endAt.toISOString(),
    cpuCount: sandbox.cpus,
    memoryMB: sandbox.memoryMb,
    diskSizeMB: 0,
    metadata: sandbox.metadata,
    state: "running",
    envdVersion: ENVD_VERSION,
    volumeMounts: [],
  };
}
