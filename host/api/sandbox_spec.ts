/**
 * What a sandbox is asked to be: the request every front end makes (CLI flags, a detached
 * session's `plan.json`, a snapshot's manifest, and later HTTP bodies), and the one validator all
 * of them go through. Nothing read from outside is cast: it is parsed here.
 *
 * @module
 */

import { USER_NAME_PATTERN } from "@agentbox/protocol";
import { z } from "zod";
import { IMAGE_NAME_PATTERN } from "../../image/store.ts";
import { UsageError } from "../agentbox_error.ts";
import { parseIp } from "../net/ip_address.ts";
import { NET_BACKEND_CHOICES } from "../net/net_backend.ts";
import { NET_CHOICES } from "../session/net_choice.ts";
import { VMM_KINDS } from "../vm/running_vm.ts";
import { MIN_MEMORY_MB, VM_DEFAULTS } from "../vm/spec.ts";

// The vocabulary a spec is written in, for front ends that turn flags or fields into one.
export {
  IMAGE_NAME_PATTERN,
  MIN_MEMORY_MB,
  NET_BACKEND_CHOICES,
  NET_CHOICES,
  VM_DEFAULTS,
  VMM_KINDS,
};
export { isValidName, NAME_RULE } from "../session/names.ts";
/** Check an `allow`/`deny` entry before a sandbox is started with it (throws `bad_host_pattern`). */
export { parseHostPattern } from "../config/host_pattern.ts";
export type { NetBackendChoice } from "../net/net_backend.ts";
export type { NetChoice } from "../session/net_choice.ts";
export type { VmmKind } from "../vm/running_vm.ts";

/** The longest `timeoutSec` (a week). */
export const MAX_TIMEOUT_SEC = 7 * 24 * 3600;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const absolutePath = z.string().min(1).max(4096).refine(
  (p) => p.startsWith("/") && !p.includes("\0"),
  "must be an absolute path",
);

/** The schema of a {@linkcode SandboxSpec}; unknown keys are refused. */
export const SANDBOX_SPEC_SCHEMA = z.strictObject({
  /** The command (the session's first command for a detached session). */
  argv: z.array(z.string().max(128 * 1024).refine((a) => !a.includes("\0"), "contains NUL"))
    .min(1).max(4096),
  env: z.record(z.string().regex(ENV_NAME, "is not a variable name"), z.string().max(128 * 1024))
    .default({}),
  workdir: z.string().min(1).max(4096).optional(),
  /** Guest user to run as; absent: the image's default user. */
  user: z.string().regex(USER_NAME_PATTERN, "is not a user name").optional(),
  timeoutSec: z.number().int().min(0).max(MAX_TIMEOUT_SEC).optional(),
  image: z.string().regex(IMAGE_NAME_PATTERN, "is not an image name").default("default"),
  cpus: z.number().int().min(1).max(64).default(VM_DEFAULTS.cpus),
  memoryMb: z.number().int().min(MIN_MEMORY_MB).max(1024 * 1024).default(VM_DEFAULTS.memoryMb),
  /** Absent: `vm.vmm` from the user's config, else QEMU. */
  vmm: z.enum(VMM_KINDS as unknown as ["qemu", "cloud-hypervisor"]).optional(),
  /** Absent: the mode the configuration sets. */
  net: z.enum(NET_CHOICES as unknown as ["none", "allowlist", "open", "learn"]).optional(),
  allow: z.array(z.string().max(256)).max(1024).default([]),
  deny: z.array(z.string().max(256)).max(1024).default([]),
  tlsInspect: z.boolean().default(false),
  /** Give the guest the host's extra trusted CAs (`--trust-host-ca`; the config may also ask). */
  trustHostCa: z.boolean().default(false),
  /** Absent: the configuration decides (default `auto`). */
  netBackend: z.enum(NET_BACKEND_CHOICES as unknown as ["auto", "tap", "user"]).optional(),
  /** The directory shown at /workspace; absent: nothing is shared. */
  share: absolutePath.optional(),
  /**
   * The project: where `.agentbox.toml` is read (and learn mode writes). Decided by the front
   * end once (the share, else the directory the user works in), never looked up later.
   */
  projectDir: absolutePath,
  /**
   * Secrets the proxy injects into requests to a host (as `[[credentials]]` in config.toml
   * does): the value is read from the owner's environment variable `secretEnv`, never written
   * in the spec; the guest's `guestEnv` variables hold only a placeholder.
   */
  credentials: z.array(z.strictObject({
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).optional(),
    header: z.string().min(1).max(64).default("authorization"),
    scheme: z.string().max(32).optional(),
    secretEnv: z.string().regex(ENV_NAME, "is not a variable name"),
    guestEnv: z.array(z.string().regex(ENV_NAME, "is not a variable name")).max(8).default([]),
  })).max(32).default([]),
  /** Port forwards from the host into the guest (`-p`), open for the sandbox's life. */
  ports: z.array(z.strictObject({
    hostname: z.string().max(64).refine((h) => parseIp(h) !== undefined, "is not an IP address"),
    hostPort: z.number().int().min(0).max(65535),
    guestPort: z.number().int().min(1).max(65535),
  })).max(64).default([]),
});

/** A validated sandbox request. */
export type SandboxSpec = z.infer<typeof SANDBOX_SPEC_SCHEMA>;

/** A request as a front end builds it, before defaults. */
export type SandboxSpecInput = z.input<typeof SANDBOX_SPEC_SCHEMA>;

/**
 * Validate `value` as a sandbox spec, filling in defaults. Throws a `UsageError` (code
 * `spec_invalid`) naming `source` and the first bad field.
 *
 * @example
 * ```ts
 * import { parseSandboxSpec } from "./sandbox_spec.ts";
 * const spec = parseSandboxSpec({ argv: ["true"], projectDir: "/src/app" }, "the request");
 * console.assert(spec.image === "default" && spec.cpus >= 1);
 * ```
 */
export function parseSandboxSpec(value: unknown, source: string): SandboxSpec {
  const parsed = SANDBOX_SPEC_SCHEMA.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join(".") : "the spec";
  throw new UsageError(`Invalid sandbox spec in ${source}: ${field}: ${issue.message}`, {
    code: "spec_invalid",
  });
}
