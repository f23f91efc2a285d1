/**
 * The `[vm]` table of the user's configuration: settings of the VM itself rather than of its
 * network. Today one key, `vm.vmm`, the VMM that `exec` and `run` use when `--vmm` is not given.
 * It is a "user only" key (docs/configuration.md): a project's `.agentbox.toml` is writable by
 * the sandbox, so a `[vm]` table there is refused rather than obeyed.
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { configDir } from "../paths.ts";
import { VMM_KINDS, type VmmKind } from "../vmm_kind.ts";
import { ConfigError } from "./config_error.ts";
import { readConfigFile } from "./config_file.ts";
import { keyLine } from "./key_line.ts";
import { checkKeys, table, type Where } from "./toml_values.ts";

const VM_KEYS = ["vmm", "kvm_warning"];

/** What `[vm]` sets; absent keys are the defaults. */
export interface VmSettings {
  /** `vm.vmm`: default `qemu`. */
  vmm?: VmmKind;
  /**
   * `vm.kvm_warning`: false silences the warning that KVM is unusable (software emulation),
   * which is otherwise printed once per host boot. Default true.
   */
  kvmWarning?: boolean;
}

/** Sources of {@linkcode loadVmSettings}. */
export interface LoadVmSettingsOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine. */
  userFile?: string;
  /** Project directory whose `.agentbox.toml` must not have a `[vm]` table. */
  projectDir?: string;
}

/**
 * Read `[vm]` from the user's file. Throws {@linkcode ConfigError} for a bad value, an unknown
 * key, or a `[vm]` table in the project's file.
 *
 * @example
 * ```ts
 * import { loadVmSettings } from "./vm_settings.ts";
 * const { vmm } = await loadVmSettings({ projectDir: Deno.cwd() });
 * console.log(vmm ?? "qemu");
 * ```
 */
export async function loadVmSettings(options: LoadVmSettingsOptions = {}): Promise<VmSettings> {
  if (options.projectDir !== undefined) {
    const file = `${options.projectDir}/.agentbox.toml`;
    const doc = await readConfigToml(file);
    if (doc?.values.vm !== undefined) {
      throw new ConfigError(
        { file, key: "vm", line: doc.lineOf("vm") },
        "allowed in the user's config.toml only (the sandbox can write this file)",
      );
    }
  }
  const file = options.userFile ?? `${configDir()}/config.toml`;
  const doc = await readConfigToml(file);
  if (doc?.values.vm === undefined) return {};
  const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
  const vm = table(doc.values.vm, where("vm"));
  checkKeys(vm, VM_KEYS, "vm", where);
  const settings: VmSettings = {};
  if (vm.kvm_warning !== undefined) {
    if (typeof vm.kvm_warning !== "boolean") {
      throw new ConfigError(where("vm.kvm_warning"), "must be true or false");
    }
    settings.kvmWarning = vm.kvm_warning;
  }
  if (vm.vmm === undefined) return settings;
  if (!VMM_KINDS.includes(vm.vmm as VmmKind)) {
    throw new ConfigError(where("vm.vmm"), `must be one of ${VMM_KINDS.join(", ")}`);
  }
  return { ...settings, vmm: vm.vmm as VmmKind };
}

/** A configuration file's top-level values, and where a dotted key sits in it. */
export interface ConfigToml {
  values: Record<string, unknown>;
  lineOf: (key: string) => number | undefined;
}

/**
 * Parse the TOML file `file`, or `undefined` when there is none. Throws {@linkcode ConfigError}
 * naming the file (and the line) when it cannot be read or parsed.
 *
 * @example
 * ```ts
 * import { readConfigToml } from "./vm_settings.ts";
 * console.assert((await readConfigToml("/nonexistent/config.toml")) === undefined);
 * ```
 */
export async function readConfigToml(file: string): Promise<ConfigToml | undefined> {
  // A regular file within a size bound, or nothing: never a FIFO, a device or a socket.
  const text = await readConfigFile(file);
  if (text === undefined) return undefined;
  try {
    return { values: parse(text), lineOf: (key) => keyLine(text, key) };
  } catch (err) {
    const line = err instanceof TomlError ? err.line : undefined;
    throw new ConfigError({ file, line }, (err as Error).message.split("\n")[0], { cause: err });
  }
}
