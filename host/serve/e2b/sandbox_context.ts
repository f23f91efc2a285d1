/**
 * Which sandbox an envd RPC is for: the envd app finds it from the request's `E2b-Sandbox-Id`
 * (and checks its access token) before Connect runs the method, and hands it over as a context
 * value.
 *
 * @module
 */

import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { E2bSandbox } from "./sandboxes.ts";

/** The context key the sandbox travels under. */
export const SANDBOX_KEY = createContextKey<E2bSandbox | undefined>(undefined, {
  description: "the E2B sandbox of the request",
});

/** The sandbox of an RPC. Throws `Unavailable` when the app did not set one. */
export function sandboxOf(ctx: Pick<HandlerContext, "values">): E2bSandbox {
  const sandbox = ctx.values.get(SANDBOX_KEY);
  if (!sandbox) throw new ConnectError("No sandbox for this request", Code.Unavailable);
  return sandbox;
}
