/**
 * The configuration as agentbox sees it, as data for `agentbox config` and `agentbox doctor`:
 * where it looked (the user's `config.toml`, the project's `.agentbox.toml` found by
 * project_file.ts), whether each file is valid — checked by the very loaders a session uses, so
 * a file that passes here is a file a session accepts — and every effective value with the file
 * and line that set it (or "default").
 *
 * Lists add up across the files (each part shown with its own file); other values come from the
 * last file that sets them, as the loaders merge them (docs/configuration.md).
 *
 * @module
 */

import { configDir } from "../paths.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { DEFAULT_WORKSPACE_LIMITS } from "../workspace/workspace_limits.ts";
import { ConfigError } from "./config_error.ts";
import { loadPolicy } from "./load_config.ts";
import { findProjectFile, type ProjectFile } from "./project_file.ts";
import { loadShareSettings } from "./share_settings.ts";
import { loadVmSettings, readConfigToml } from "./vm_settings.ts";
import { loadWorkspaceLimits } from "./workspace_settings.ts";
import { loadAuditSettings } from "./audit_settings.ts";

/** One configuration file agentbox looked at. */
export interface ConfigFileStatus {
  /** `user` (`config.toml`) or `project` (`.agentbox.toml`). */
  role: "user" | "project";
  file: string;
  /** Something is there (else: missing, which is fine). */
  exists: boolean;
  /** Why it is refused; absent when it is valid or missing. */
  error?: { message: string; line?: number; key?: string };
}

/** One effective setting. */
export interface ConfigValue {
  /** Dotted key, `credentials[0].env` for arrays of tables. */
  key: string;
  value: unknown;
  /** The file that set it, absent for a built-in default. */
  file?: string;
  line?: number;
}

/** What {@linkcode configReport} found. */
export interface ConfigReport {
  project: ProjectFile;
  files: ConfigFileStatus[];
  /** Every value set by a valid file, plus the defaults of what none sets. */
  values: ConfigValue[];
}

/** Built-in values of the settings that have one (docs/configuration.md, "Every key"). */
const DEFAULTS: Record<string, unknown> = {
  "network.mode": "allowlist",
  "network.backend": "auto",
  "network.connect_ports": [443],
  "network.http_ports": [80],
  "inspect.enabled": false,
  "vm.vmm": "qemu",
  "vm.image": "default",
  "vm.cpus": VM_DEFAULTS.cpus,
  "vm.memory": VM_DEFAULTS.memoryMb,
  "workspace.max_changes": DEFAULT_WORKSPACE_LIMITS.maxChangesBytes,
  "workspace.state_reserve": DEFAULT_WORKSPACE_LIMITS.stateReserveBytes,
};

/** Keys whose value replaces, rather than adds to, an earlier file's. */
const REPLACED = new Set(["network.connect_ports", "network.http_ports"]);

/**
 * Look for both files, validate each, and list the effective values.
 *
 * @example
 * ```ts
 * import { configReport } from "./config_report.ts";
 * const report = await configReport({ projectDir: Deno.cwd() });
 * for (const v of report.values) console.log(v.key, v.value, v.file ?? "default");
 * ```
 */
export async function configReport(
  options: { projectDir: string; userFile?: string },
): Promise<ConfigReport> {
  const userFile = options.userFile ?? `${configDir()}/config.toml`;
  let project: ProjectFile;
  const files: ConfigFileStatus[] = [await checkFile("user", userFile, { userFile })];
  try {
    project = await findProjectFile(options.projectDir);
    files.push(
      await checkFile("project", project.file, { userFile: null, projectDir: project.dir }),
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    project = {
      projectDir: options.projectDir,
      dir: options.projectDir,
      file: error.location.file,
      exists: true,
    };
    files.push({
      role: "project",
      file: error.location.file,
      exists: true,
      error: described(error),
    });
  }
  const values: ConfigValue[] = [];
  for (const status of files) {
    if (!status.exists || status.error) continue;
    const doc = await readConfigToml(status.file);
    if (doc) merge(values, flatten(doc.values, ""), status.file, doc.lineOf);
  }
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (!values.some((v) => v.key === key)) values.push({ key, value });
  }
  values.sort((a, b) => a.key.localeCompare(b.key));
  return { project, files, values };
}

/**
 * Whether the configuration file `file` is valid, checked by every loader of its role.
 * `sources` names it to the loaders: `{ userFile }` for the user's, `{ userFile: null,
 * projectDir }` for a project's.
 */
async function checkFile(
  role: ConfigFileStatus["role"],
  file: string,
  sources: { userFile: string | null; projectDir?: string },
): Promise<ConfigFileStatus> {
  let exists = false;
  try {
    exists = (await readConfigToml(file)) !== undefined;
    if (exists) {
      await loadPolicy(sources);
      await loadVmSettings(sources);
      await loadWorkspaceLimits(sources);
      await loadShareSettings(sources);
      await loadAuditSettings(sources);
    }
    return { role, file, exists };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { role, file, exists: true, error: described(error) };
  }
}

function described(error: ConfigError): ConfigFileStatus["error"] {
  const { line, key } = error.location;
  return { message: error.message, ...(line ? { line } : {}), ...(key ? { key } : {}) };
}

/** Leaves of a TOML document: `[key path, value]`, arrays of tables indexed. */
function flatten(value: unknown, prefix: string): [string[], unknown][] {
  if (
    typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date)
  ) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  if (Array.isArray(value) && value.length > 0 && value.every(isTable)) {
    return value.flatMap((v, i) => flatten(v, `${prefix}.${i}`));
  }
  return [[prefix.split("."), value]];
}

function isTable(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function merge(
  values: ConfigValue[],
  leaves: [string[], unknown][],
  file: string,
  lineOf: (key: string) => number | undefined,
): void {
  for (const [path, value] of leaves) {
    const dotted = path.join(".");
    const key = dotted.replace(/\.([0-9]+)(?=\.|$)/g, "[$1]");
    const line = lineOf(dotted);
    const entry: ConfigValue = { key, value, file, ...(line ? { line } : {}) };
    const earlier = values.findIndex((v) => v.key === key);
    const adds = Array.isArray(value) && !REPLACED.has(key) || /\[[0-9]+\]/.test(key);
    if (earlier >= 0 && !adds) values.splice(earlier, 1);
    values.push(entry);
  }
}
