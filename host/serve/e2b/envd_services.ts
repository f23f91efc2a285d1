/**
 * The service descriptors of E2B's in-sandbox daemon (envd): `process.Process` and
 * `filesystem.Filesystem`, taken at run time from the installed `e2b` npm package, whose bundle
 * carries them as serialized `FileDescriptorProto`s. Nothing of E2B's `.proto` files is copied
 * into this repository: the SDK we answer is the one that defines the messages.
 *
 * @module
 */

import type { DescService } from "@bufbuild/protobuf";
import { fileDesc } from "@bufbuild/protobuf/codegenv2";
import { file_google_protobuf_timestamp } from "@bufbuild/protobuf/wkt";
import { AgentboxError } from "../../agentbox_error.ts";

/** The two envd services the SDK calls. */
export interface EnvdServices {
  process: DescService;
  filesystem: DescService;
}

/** `fileDesc("…")` in the bundle: a base64 `FileDescriptorProto`. */
const EMBEDDED_FILE = /fileDesc\)?\("([A-Za-z0-9+/_-]+={0,2})"/g;

let loaded: Promise<EnvdServices> | undefined;

/**
 * The envd services, read once from the `e2b` package's bundle (resolved like an import).
 * Throws `AgentboxError` `e2b_package_missing` when the package is not installed or carries no
 * such services.
 *
 * @example
 * ```ts ignore
 * import { envdServices } from "./envd_services.ts";
 * const { process } = await envdServices();
 * console.log(process.methods.map((m) => m.name)); // ["List", "Connect", "Start", …]
 * ```
 */
export function envdServices(): Promise<EnvdServices> {
  loaded ??= load();
  loaded.catch(() => loaded = undefined);
  return loaded;
}

async function load(): Promise<EnvdServices> {
  let text: string;
  try {
    text = await Deno.readTextFile(new URL(import.meta.resolve("e2b")));
  } catch (cause) {
    throw missing("the npm package e2b is not installed (run `npm ci`)", cause);
  }
  const services = new Map<string, DescService>();
  for (const [, encoded] of text.matchAll(EMBEDDED_FILE)) {
    let file;
    try {
      file = fileDesc(encoded, [file_google_protobuf_timestamp]);
    } catch {
      continue; // a descriptor of something else, with other dependencies
    }
    for (const service of file.services) services.set(service.typeName, service);
  }
  const process = services.get("process.Process");
  const filesystem = services.get("filesystem.Filesystem");
  if (!process || !filesystem) {
    throw missing("the installed e2b package carries no process/filesystem services");
  }
  return { process, filesystem };
}

function missing(detail: string, cause?: unknown): AgentboxError {
  return new AgentboxError(`Cannot serve E2B's envd API: ${detail}`, {
    cause,
    kind: "unavailable",
    code: "e2b_package_missing",
  });
}
