/**
 * dpkg's database of installed packages (`/var/lib/dpkg/status`), parsed from guest-supplied text,
 * and the difference between two of them: what `agentbox diff --system` reports as packages
 * installed, removed and upgraded.
 *
 * @module
 */

/** One package dpkg has installed (its `Status` ends in `installed`). */
export interface InstalledPackage {
  name: string;
  /** `amd64`, `all`… (empty when the paragraph has none). */
  architecture: string;
  version: string;
}

/** A package name dpkg accepts (Debian policy 5.6.1), as the export requires before using one. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{1,127}$/;

/** A Debian version string (policy 5.6.12): epoch, upstream, revision. */
export const PACKAGE_VERSION = /^(?:[0-9]{1,9}:)?[A-Za-z0-9][A-Za-z0-9.+~-]{0,127}$/;

/** An architecture name. */
const ARCHITECTURE = /^[a-z0-9-]{1,32}$/;

/**
 * The installed packages of a `status` file, keyed `name:architecture`. Paragraphs without a
 * valid name, version or architecture, and packages not fully installed, are left out.
 *
 * @example
 * ```ts
 * import { parseDpkgStatus } from "./dpkg_status.ts";
 * const text = "Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\n";
 * console.assert(parseDpkgStatus(text).get("hello:amd64")?.version === "2.10-3");
 * ```
 */
export function parseDpkgStatus(text: string): Map<string, InstalledPackage> {
  const packages = new Map<string, InstalledPackage>();
  for (const paragraph of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of paragraph.split("\n")) {
      if (line === "" || line.startsWith(" ") || line.startsWith("\t")) continue;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const name = fields.get("package") ?? "";
    const version = fields.get("version") ?? "";
    const architecture = fields.get("architecture") ?? "";
    const status = (fields.get("status") ?? "").split(/\s+/);
    if (status[2] !== "installed") continue;
    if (!PACKAGE_NAME.test(name) || !PACKAGE_VERSION.test(version)) continue;
    if (architecture !== "" && !ARCHITECTURE.test(architecture)) continue;
    packages.set(`${name}:${architecture}`, { name, architecture, version });
  }
  return packages;
}

/** A package whose version changed. */
export interface UpgradedPackage extends InstalledPackage {
  /** The version before (`version` is the one after). */
  from: string;
}

/** What changed between two package databases. */
export interface PackageChanges {
  installed: InstalledPackage[];
  removed: InstalledPackage[];
  /** Any change of version (a downgrade too), as dpkg would show it. */
  upgraded: UpgradedPackage[];
}

/**
 * The packages installed, removed and upgraded from `before` to `after`, sorted by name.
 *
 * @example
 * ```ts
 * import { diffPackages, parseDpkgStatus } from "./dpkg_status.ts";
 * const p = (v: string) => `Package: a\nStatus: install ok installed\nVersion: ${v}\n`;
 * const changes = diffPackages(parseDpkgStatus(p("1")), parseDpkgStatus(p("2")));
 * console.assert(changes.upgraded[0].from === "1");
 * ```
 */
export function diffPackages(
  before: Map<string, InstalledPackage>,
  after: Map<string, InstalledPackage>,
): PackageChanges {
  const changes: PackageChanges = { installed: [], removed: [], upgraded: [] };
  for (const [key, pkg] of after) {
    const old = before.get(key);
    if (!old) changes.installed.push(pkg);
    else if (old.version !== pkg.version) changes.upgraded.push({ ...pkg, from: old.version });
  }
  for (const [key, pkg] of before) if (!after.has(key)) changes.removed.push(pkg);
  const byName = (a: InstalledPackage, b: InstalledPackage) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : 1;
  changes.installed.sort(byName);
  changes.removed.sort(byName);
  changes.upgraded.sort(byName);
  return changes;
}
