/**
 * `/v1/sandboxes`: create (from the same spec as the CLI, or from a snapshot), list with label
 * filters, get, stop, delete, and move a sandbox's deadline. A sandbox is an ordinary detached
 * session: `agentbox ps` lists it and the CLI can attach to, diff and stop it.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { AgentboxError, UsageError } from "../api/errors.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import { parseSandboxSpec } from "../api/sandbox_spec.ts";
import { sessionAttributes, startDetachedSession } from "../api/session_owner.ts";
import {
  isAlive,
  listSessions,
  removeSessions,
  type SessionEntry,
  stopSessions,
} from "../api/sessions.ts";
import { restoreSnapshot } from "../api/snapshots.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { CREATE_SANDBOX, errorReply, jsonReply, SANDBOX, SANDBOX_PARAM } from "./schemas.ts";

/** The command a sandbox's session is planned with; it is never run (`runCommand: false`). */
const IDLE_COMMAND = ["/bin/sh"];

const errors = {
  400: errorReply("Bad request"),
  404: errorReply("No such sandbox"),
  409: errorReply("Not in a state to do it"),
  500: errorReply("Failure"),
} as const;

/**
 * Add the sandbox routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { sandboxRoutes } from "./sandbox_routes.ts";
 * sandboxRoutes(app, deps);
 * ```
 */
export function sandboxRoutes(app: ServeApp, deps: ServeDeps): void {
  const { ctx, registry } = deps;

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes",
      summary: "Create a sandbox (boot, or restore a snapshot); answers once it runs",
      request: { body: { content: { "application/json": { schema: CREATE_SANDBOX } } } },
      responses: { 201: jsonReply(SANDBOX, "The running sandbox"), ...errors },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const who = c.get("who");
      await checkLimit(deps, who);
      let id: string;
      if (body.snapshot !== undefined) {
        const extra = Object.keys(body).filter((k) =>
          !["snapshot", "name", "timeoutSec"].includes(k)
        );
        if (extra.length > 0) {
          throw new UsageError(
            `A sandbox restored from a snapshot takes its spec from it: drop ${extra.join(", ")}`,
            { code: "request_invalid" },
          );
        }
        id = (await restoreSnapshot(ctx, body.snapshot, { as: body.name })).id;
      } else {
        const share = body.share;
        // Each value reaches the owner as a variable of its environment, never in its plan.
        const ownerEnv: Record<string, string> = {};
        const credentials = (body.secrets ?? []).map((secret, i) => {
          ownerEnv[`AGENTBOX_SECRET_${i}`] = secret.value;
          return {
            host: secret.host,
            port: secret.port,
            header: secret.header,
            scheme: secret.scheme,
            secretEnv: `AGENTBOX_SECRET_${i}`,
            guestEnv: secret.guestEnv,
          };
        });
        const spec = parseSandboxSpec({
          argv: IDLE_COMMAND,
          env: body.env,
          workdir: body.workdir,
          user: body.user,
          image: body.image,
          cpus: body.cpus,
          memoryMb: body.memoryMb,
          net: body.net,
          allow: body.allow,
          deny: body.deny,
          tlsInspect: body.tlsInspect,
          share,
          projectDir: body.projectDir ?? share ?? deps.defaultProject,
          credentials,
        }, "the request");
        id = (await startDetachedSession(ctx, {
          name: body.name,
          spec,
          runCommand: false,
          labels: body.labels ?? {},
          createdBy: who,
          approvals: body.approvalTimeoutSec === undefined
            ? undefined
            : body.approvalTimeoutSec === 0
            ? false
            : { timeoutMs: body.approvalTimeoutSec * 1000 },
        }, { ownerEnv, standby: deps.standby })).id;
      }
      if (body.timeoutSec) registry.expireAt(id, Date.now() + body.timeoutSec * 1000);
      return c.json(await describe(deps, await entry(deps, id)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes",
      summary: "List sandboxes (every detached session), optionally by label",
      request: {
        query: z.object({
          label: z.union([z.string(), z.array(z.string())]).optional().openapi({
            description: "KEY=VALUE (or KEY: has the label); repeat to require several",
          }),
          all: z.enum(["true", "false"]).optional().openapi({
            description: "Also stopped sandboxes",
          }),
        }),
      },
      responses: {
        200: jsonReply(z.object({ sandboxes: z.array(SANDBOX) }), "The sandboxes"),
        ...errors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const wanted = labelFilter(query.label);
      const entries = (await listSessions(ctx, { all: true }))
        .filter((e) => e.kind === "detached" && (query.all === "true" || isAlive(e.state)));
      const sandboxes = [];
      for (const e of entries) {
        const sandbox = await describe(deps, e);
        if (
          wanted.every(([k, v]) =>
            k in sandbox.labels && (v === undefined || sandbox.labels[k] === v)
          )
        ) {
          sandboxes.push(sandbox);
        }
      }
      return c.json({ sandboxes }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}",
      summary: "Get a sandbox",
      request: { params: SANDBOX_PARAM },
      responses: { 200: jsonReply(SANDBOX, "The sandbox"), ...errors },
    }),
    async (c) => c.json(await describe(deps, await entry(deps, c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/stop",
      summary: "Stop a sandbox, keeping its changes for review",
      request: {
        params: SANDBOX_PARAM,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                timeSec: z.number().int().min(0).max(3600).optional(),
                kill: z.boolean().optional(),
              }),
            },
          },
          required: false,
        },
      },
      responses: { 200: jsonReply(SANDBOX, "The stopped sandbox"), ...errors },
    }),
    async (c) => {
      const id = resolveSessionRef(ctx, c.req.valid("param").id);
      const body = c.req.valid("json") ?? {};
      const [outcome] = await stopSessions(ctx, [id], {
        kill: body.kill === true,
        timeoutMs: 300_000,
        graceMs: (body.timeSec ?? 10) * 1000,
      });
      registry.forget(id);
      if (outcome?.outcome === "timeout") {
        throw new AgentboxError(`Sandbox ${id} did not stop in time`, {
          kind: "timeout",
          code: "stop_timeout",
        });
      }
      return c.json(await describe(deps, await entry(deps, id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sandboxes/{id}",
      summary: "Delete a sandbox (stopping it first unless force is false)",
      request: {
        params: SANDBOX_PARAM,
        query: z.object({ force: z.enum(["true", "false"]).optional() }),
      },
      responses: { 204: { description: "Deleted" }, ...errors },
    }),
    async (c) => {
      const id = resolveSessionRef(ctx, c.req.valid("param").id);
      const { alive } = await removeSessions({ ...ctx, actor: c.get("who") }, [id], {
        force: c.req.valid("query").force !== "false",
      });
      if (alive.length > 0) {
        throw new AgentboxError(`Sandbox ${id} is running: stop it, or delete with force=true`, {
          kind: "state",
          code: "session_alive",
        });
      }
      registry.forget(id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/timeout",
      summary: "Stop the sandbox this many seconds from now (0: never)",
      request: {
        params: SANDBOX_PARAM,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ timeoutSec: z.number().int().min(0).max(7 * 24 * 3600) }),
            },
          },
        },
      },
      responses: { 200: jsonReply(SANDBOX, "The sandbox"), ...errors },
    }),
    async (c) => {
      const current = await entry(deps, c.req.valid("param").id);
      if (!isAlive(current.state)) {
        throw new AgentboxError(`Sandbox ${current.id} is not running`, {
          kind: "state",
          code: "session_not_running",
        });
      }
      const { timeoutSec } = c.req.valid("json");
      registry.expireAt(current.id, timeoutSec === 0 ? null : Date.now() + timeoutSec * 1000);
      return c.json(await describe(deps, current), 200);
    },
  );
}

/** The session `ref` names, as listed. */
async function entry(deps: ServeDeps, ref: string): Promise<SessionEntry> {
  const id = resolveSessionRef(deps.ctx, ref);
  const found = (await listSessions(deps.ctx, { all: true })).find((e) => e.id === id);
  if (!found) {
    throw new AgentboxError(`No sandbox ${ref}`, { kind: "not_found", code: "session_unknown" });
  }
  return found;
}

/** A listed session as the API shows a sandbox. */
async function describe(deps: ServeDeps, e: SessionEntry): Promise<z.infer<typeof SANDBOX>> {
  const { labels, createdBy } = await sessionAttributes(e.id);
  return {
    id: e.id,
    name: e.name,
    state: e.state,
    labels,
    createdBy,
    project: e.project,
    guestAddress: e.guestAddress,
    changes: e.changes,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    expiresAt: isAlive(e.state) ? deps.registry.expiresAt(e.id) : null,
  };
}

/** Refuse a new sandbox when `who` has as many live ones as a client may. */
async function checkLimit(deps: ServeDeps, who: string): Promise<void> {
  let live = 0;
  for (const e of await listSessions(deps.ctx)) {
    if (e.kind === "detached" && isAlive(e.state)) {
      if ((await sessionAttributes(e.id)).createdBy === who) live++;
    }
  }
  if (live >= deps.limits.sandboxesPerClient) {
    throw new AgentboxError(
      `${who} has ${live} running sandboxes, the most a client may (--max-sandboxes): ` +
        "stop or delete one first",
      { kind: "conflict", code: "sandbox_limit" },
    );
  }
}

/** `label` query values as [key, value?] pairs. */
function labelFilter(label: string | string[] | undefined): [string, string | undefined][] {
  const values = label === undefined ? [] : Array.isArray(label) ? label : [label];
  return values.map((v) => {
    const at = v.indexOf("=");
    return at < 0 ? [v, undefined] : [v.slice(0, at), v.slice(at + 1)];
  });
}
