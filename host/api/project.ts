/**
 * The project a command works on, as data: where its `.agentbox.toml` is (found above the
 * project directory as git finds `.git`), the defaults it sets for a sandbox (image, CPUs,
 * memory), the effective configuration with the file and line of each value (`agentbox config`),
 * the configuration checks of `agentbox doctor`, and whether a directory may be shared without
 * being named (`run` in `~` or `/tmp` is refused).
 *
 * @module
 */

import {
  type ConfigFileStatus,
  type ConfigReport,
  configReport,
  type ConfigValue,
} from "../config/config_report.ts";
import { findProjectFile, type ProjectFile } from "../config/project_file.ts";
import { loadVmSettings, type Sourced } from "../config/vm_settings.ts";
import { implicitShareProblem } from "../workspace/share_guard.ts";
import type { Check } from "./doctor.ts";

export type { ConfigFileStatus, ConfigReport, ConfigValue, ProjectFile, Sourced };
export { configReport, findProjectFile, implicitShareProblem };

/** What a project's configuration (or the user's) sets for a sandbox when no flag does. */
export interface SandboxDefaults {
  image?: Sourced<string>;
  cpus?: Sourced<number>;
  memoryMb?: Sourced<number>;
}

/**
 * The `vm.image`, `vm.cpus` and `vm.memory` defaults of the project at `projectDir` (its
 * `.agentbox.toml` wins over the user's `config.toml`). Throws `ConfigError` for an invalid file.
 *
 * @example
 * ```ts
 * import { sandboxDefaults } from "./project.ts";
 * const { cpus } = await sandboxDefaults("/src/app");
 * console.log(cpus?.value ?? "built-in default");
 * ```
 */
export async function sandboxDefaults(projectDir: string): Promise<SandboxDefaults> {
  const project = await findProjectFile(projectDir);
  const { image, cpus, memoryMb } = await loadVmSettings({ projectDir: project.dir });
  return { image, cpus, memoryMb };
}

/**
 * Doctor's configuration checks: one per file, saying where agentbox looked and whether the file
 * is valid. An invalid file fails (a session would refuse to start).
 *
 * @example
 * ```ts
 * import { configChecks } from "./project.ts";
 * for (const check of await configChecks("/src/app")) console.log(check.name, check.ok);
 * ```
 */
export async function configChecks(projectDir: string): Promise<Check[]> {
  const report = await configReport({ projectDir });
  return report.files.map((status) => {
    const name = status.role === "user" ? "user config" : "project config";
    if (status.error) {
      return {
        name,
        ok: false,
        required: true,
        detail: status.error.message,
        fix: `correct ${status.file} (docs/configuration.md)`,
      };
    }
    const where = status.role === "project" && !status.exists
      ? `none found from ${report.project.projectDir} up to ${
        report.project.repoRoot ?? "the file system root"
      }`
      : `${status.file}${status.exists ? " is valid" : " (missing: fine)"}`;
    return { name, ok: true, required: true, detail: where };
  });
}
