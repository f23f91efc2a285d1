/**
 * The `[vm]` table: settings of the VM itself rather than of its network. `vm.vmm` (the VMM that
 * `exec` and `run` use when `--vmm` is not given) is a "user only" key (docs/configuration.md): a
 * project's `.agentbox.toml` is writable by the sandbox, so `vm.vmm` there is refused rather than
 * obeyed, and so is `vm.kvm_warning`. `vm.image`, `vm.cpus` and `vm.memory` are defaults a project may set too (a command-line
 * flag wins, then the project's file, then the user's).
 *
 * @module
 */

import { parse, TomlError } from "smol-toml";
import { IMAGE_NAME_PATTERN } from "../../image/store.ts";
import { configDir } from "../paths.ts";
import { MIN_MEMORY_MB } from "../vm/spec.ts";
import { VMM_KINDS, type VmmKind } from "../vmm_kind.ts";
import { ConfigError } from "./config_error.ts";
import { readConfigFile } from "./config_file.ts";
import { keyLine } from "./key_line.ts";
import { checkKeys, table, type Where } from "./toml_values.ts";

const VM_KEYS = ["vmm", "kvm_warning", "image", "cpus", "memory"];

/** Keys a project's `.agentbox.toml` may not set (the sandbox can write that file). */
const USER_ONLY = ["vmm", "kvm_warning"];

/** A setting's value and where it was set. */
export interface Sourced<T> {
  value: T;
  file: string;
  line?: number;
}

/** What `[vm]` sets; absent keys are the defaults. */
export interface VmSettings {
  /** `vm.vmm` (user's file only): default `qemu`. */
  vmm?: VmmKind;
  /**
   * `vm.kvm_warning` (user's file only): false silences the warning that KVM is unusable
   * (software emulation), which is otherwise printed once per host boot. Default true.
   */
  kvmWarning?: boolean;
  /** `vm.image`: the image when `--image` is not given. */
  image?: Sourced<string>;
  /** `vm.cpus`: virtual CPUs when `--cpus` is not given. */
  cpus?: Sourced<number>;
  /** `vm.memory`: MiB of guest memory when `--memory` is not given. */
  memoryMb?: Sourced<number>;
}

/** Sources of {@linkcode loadVmSettings}. */
export interface LoadVmSettingsOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine; `null`: none. */
  userFile?: string | null;
  /** Directory of the project's `.agentbox.toml` (project_file.ts); omitted: none. */
  projectDir?: string;
}

/**
 * Read `[vm]` from the user's file, then the project's. Throws {@linkcode ConfigError} for a bad
 * value, an unknown key, or `vm.vmm` in the project's file.
 *
 * @example
 * ```ts
 * import { loadVmSettings } from "./vm_settings.ts";
 * const { vmm, cpus } = await loadVmSettings({ projectDir: Deno.cwd() });
 * console.log(vmm ?? "qemu", cpus?.value);
 * ```
 */
export async function loadVmSettings(options: LoadVmSettingsOptions = {}): Promise<VmSettings> {
  const settings: VmSettings = {};
  const files = options.userFile === null
    ? []
    : [{ file: options.userFile ?? `${configDir()}/config.toml`, trusted: true }];
  if (options.projectDir !== undefined) {
    files.push({ file: `${options.projectDir}/.agentbox.toml`, trusted: false });
  }
  for (const { file, trusted } of files) {
    const doc = await readConfigToml(file);
    if (doc?.values.vm === undefined) continue;
    const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
    const vm = table(doc.values.vm, where("vm"));
    checkKeys(vm, VM_KEYS, "vm", where);
    const refused = trusted ? undefined : USER_ONLY.find((key) => vm[key] !== undefined);
    if (refused !== undefined) {
      throw new ConfigError(
        where(`vm.${refused}`),
        "allowed in the user's config.toml only (the sandbox can write this file)",
      );
    }
    if (vm.kvm_warning !== undefined) {
      if (typeof vm.kvm_warning !== "boolean") {
        throw new ConfigError(where("vm.kvm_warning"), "must be true or false");
      }
      settings.kvmWarning = vm.kvm_warning;
    }
    if (vm.vmm !== undefined) {
      if (!VMM_KINDS.includes(vm.vmm as VmmKind)) {
        throw new ConfigError(where("vm.vmm"), `must be one of ${VMM_KINDS.join(", ")}`);
      }
      settings.vmm = vm.vmm as VmmKind;
    }
    const at = (key: string) => ({ file, line: doc.lineOf(key) });
    if (vm.image !== undefined) {
      if (typeof vm.image !== "string" || !IMAGE_NAME_PATTERN.test(vm.image)) {
        throw new ConfigError(
          where("vm.image"),
          'must be an image name (lower-case letters, digits, ".", "_", "-"; up to 64)',
        );
      }
      settings.image = { value: vm.image, ...at("vm.image") };
    }
    if (vm.cpus !== undefined) {
      settings.cpus = { value: wholeNumber(vm.cpus, 1, 64, where("vm.cpus")), ...at("vm.cpus") };
    }
    if (vm.memory !== undefined) {
      const mb = wholeNumber(vm.memory, MIN_MEMORY_MB, 1024 * 1024, where("vm.memory"));
      settings.memoryMb = { value: mb, ...at("vm.memory") };
    }
  }
  return settings;
}

/**
 * The value as a whole number from `min` to `max`, or a {@linkcode ConfigError} saying so.
 *
 * @example
 * ```ts
 * import { wholeNumber } from "./vm_settings.ts";
 * console.assert(wholeNumber(2, 1, 64, { file: "c.toml", key: "vm.cpus" }) === 2);
 * ```
 */
export function wholeNumber(
  value: unknown,
  min: number,
  max: number,
  loc: ReturnType<Where>,
): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(loc, `must be a whole number from ${min} to ${max}`);
  }
  return value;
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
