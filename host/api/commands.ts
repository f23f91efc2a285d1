/**
 * The vocabulary of running a command in a sandbox, as front ends see it: the request, the handle
 * of a running command, its result, and the error the guest's agent reports. Kept small so that
 * the CLI's command plumbing loads only the agent client it needs.
 *
 * @module
 */

export {
  AgentError,
  type ExecHandle,
  type ExecRequest,
  type ExecResult,
} from "../channel/agent_client.ts";
