/**
 * The dependency rule, checked (docs/architecture.md, "Layers and the dependency rule"): reads
 * the import graph of every source file from `deno info --json`, scans production code for calls
 * only an edge may make, and prints one line per violation, `file:line: rule: detail`. Exit
 * status 0 when the tree keeps the rule, 1 when it does not (or the check itself fails).
 *
 * Known violations awaiting a fix are listed in `tools/layer_exceptions.txt`; the check prints
 * how many remain and fails on an entry that no longer matches anything, so the list only shrinks.
 *
 * Usage: `deno run --allow-read --allow-run --allow-write=/tmp tools/check_layers.ts [ROOT]`
 * (the `check:layers` task).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { findEdgeOnlyUses } from "./code_scan.ts";
import {
  classify,
  type FileInfo,
  importViolation,
  misnamedTestSupport,
  RULE_TEXT,
  type RuleId,
  SOURCE_DIRS,
  TEST_SUPPORT_DIR,
} from "./layer_rules.ts";

/** One breach of the rule at a 1-based line of a repository-relative file. */
export interface Violation {
  file: string;
  line: number;
  rule: RuleId;
  detail: string;
}

/** An accepted violation: every breach of `rule` in `file` is reported as an exception. */
export interface LayerException {
  file: string;
  rule: RuleId;
  /** Line in the exceptions file, for stale entries. */
  line: number;
}

/** What the check found. */
export interface LayerReport {
  /** Violations not covered by an exception: the check fails when there is one. */
  violations: Violation[];
  /** Violations covered by an exception. */
  excepted: Violation[];
  /** Exceptions that match no violation any more (the check fails on them too). */
  stale: LayerException[];
  /** Exceptions in the file. */
  exceptions: LayerException[];
  /** Source files checked. */
  files: number;
}

/** The exceptions file, relative to the root. */
export const EXCEPTIONS_FILE = "tools/layer_exceptions.txt";

/**
 * Checks the tree at `root` (a checkout: `deno.json` and the source folders).
 *
 * @example
 * ```ts ignore
 * import { checkLayers } from "./check_layers.ts";
 * const report = await checkLayers(".");
 * console.log(report.violations.length);
 * ```
 */
export async function checkLayers(root: string): Promise<LayerReport> {
  const paths = await sourceFiles(root);
  const infos = new Map(paths.map((p) => [p, classify(p)]));
  const found: Violation[] = [];

  for (const info of infos.values()) {
    if (info.path.startsWith("host/") && info.layer === undefined) {
      found.push({
        file: info.path,
        line: 1,
        rule: "unknown-room",
        detail: `${info.room} is not in the layer table`,
      });
    }
    if (misnamedTestSupport(info.path)) {
      found.push({
        file: info.path,
        line: 1,
        rule: "test-naming",
        detail: `named like test support but outside a ${TEST_SUPPORT_DIR}/ folder`,
      });
    }
    if (info.kind === "production" && !info.edge) {
      const source = await Deno.readTextFile(join(root, info.path));
      for (const use of findEdgeOnlyUses(source)) {
        found.push({ file: info.path, line: use.line, rule: "edge-only", detail: use.token });
      }
    }
  }

  const imports = await importGraph(root, paths);
  for (const edge of imports) {
    const from = infos.get(edge.from);
    const to = infos.get(edge.to);
    if (!from || !to) continue;
    const rule = importViolation(from, to, { typeOnly: edge.typeOnly });
    if (rule) found.push({ file: edge.from, line: edge.line, rule, detail: describe(from, to) });
  }
  found.push(...roomCycles(imports, infos));
  found.push(...await compileIncludes(root, infos));

  const exceptions = await readExceptions(root);
  const covered = (v: Violation) => exceptions.some((e) => e.file === v.file && e.rule === v.rule);
  const violations = found.filter((v) => !covered(v));
  const excepted = found.filter(covered);
  const stale = exceptions.filter((e) =>
    !excepted.some((v) => v.file === e.file && v.rule === e.rule)
  );
  const order = (a: Violation, b: Violation) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line;
  return {
    violations: violations.sort(order),
    excepted: excepted.sort(order),
    stale,
    exceptions,
    files: paths.length,
  };
}

function describe(from: FileInfo, to: FileInfo): string {
  const what = (f: FileInfo) =>
    f.kind === "production" ? `${f.layer ?? f.room} ${f.path}` : `${f.kind} ${f.path}`;
  return `${what(from)} imports ${what(to)}`;
}

async function sourceFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...await Array.fromAsync(Deno.readDir(join(root, dir)))];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && path.endsWith(".ts")) out.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) await walk(dir);
  return out.sort();
}

/** One import (static, dynamic or type-only) between two files of the tree. */
export interface ImportEdge {
  from: string;
  to: string;
  line: number;
  /** `import type`: only types cross, no code runs. */
  typeOnly: boolean;
}

interface DenoInfo {
  modules: {
    specifier: string;
    dependencies?: {
      code?: { specifier?: string; span?: { start: { line: number } } };
      type?: { specifier?: string; span?: { start: { line: number } } };
    }[];
  }[];
}

/** The import graph of `paths`, from one `deno info --json` over a module importing them all. */
async function importGraph(root: string, paths: string[]): Promise<ImportEdge[]> {
  const absRoot = await Deno.realPath(root);
  const dir = await Deno.makeTempDir({ prefix: "agentbox-layers-" });
  try {
    const entry = join(dir, "all.ts");
    await Deno.writeTextFile(
      entry,
      paths.map((p) => `import ${JSON.stringify(`file://${join(absRoot, p)}`)};\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(absRoot, "deno.json"), entry],
      cwd: absRoot,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (!output.success) {
      throw new Error(`Cannot read the import graph: ${new TextDecoder().decode(output.stderr)}`);
    }
    const info: DenoInfo = JSON.parse(new TextDecoder().decode(output.stdout));
    const prefix = `file://${absRoot}/`;
    const edges: ImportEdge[] = [];
    for (const module of info.modules) {
      if (!module.specifier.startsWith(prefix)) continue;
      const from = module.specifier.slice(prefix.length);
      for (const dep of module.dependencies ?? []) {
        for (const use of [dep.code, dep.type]) {
          if (!use?.specifier?.startsWith(prefix)) continue;
          edges.push({
            from,
            to: decodeURIComponent(use.specifier.slice(prefix.length)),
            line: (use.span?.start.line ?? 0) + 1,
            typeOnly: use === dep.type && !dep.code,
          });
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Imports that close a cycle between rooms, over production imports below the edges (tests may
 * import anything; an import into an edge from below already breaks the layer rule): every import
 * from room A to room B where B also reaches A.
 */
function roomCycles(edges: ImportEdge[], infos: Map<string, FileInfo>): Violation[] {
  const counted = (p: string) => {
    const info = infos.get(p);
    return info?.kind === "production" && info.layer !== "edge";
  };
  const production = edges.filter((e) => counted(e.from) && counted(e.to));
  const next = new Map<string, Set<string>>();
  const roomOf = (p: string) => infos.get(p)!.room;
  for (const e of production) {
    const a = roomOf(e.from), b = roomOf(e.to);
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)!.add(b);
  }
  // Shortest path between rooms, breadth first.
  const path = (from: string, to: string): string[] | undefined => {
    const back = new Map<string, string>([[from, ""]]);
    const queue = [from];
    while (queue.length > 0) {
      const room = queue.shift()!;
      if (room === to) {
        const out = [to];
        for (let r = back.get(to)!; r; r = back.get(r)!) out.unshift(r);
        return out;
      }
      for (const n of next.get(room) ?? []) {
        if (!back.has(n)) (back.set(n, room), queue.push(n));
      }
    }
    return undefined;
  };
  // One line per pair of rooms, at its first import, saying how many imports it stands for (the
  // pair with fewer imports is usually the one to cut).
  const pairs = new Map<string, ImportEdge[]>();
  for (const e of production) {
    const a = roomOf(e.from), b = roomOf(e.to);
    if (a === b) continue;
    const key = `${a} → ${b}`;
    if (!pairs.has(key)) pairs.set(key, []);
    pairs.get(key)!.push(e);
  }
  const out: Violation[] = [];
  for (const [key, imports] of pairs) {
    const [a, b] = key.split(" → ");
    const back = path(b, a);
    if (!back) continue;
    const first = imports[0];
    out.push({
      file: first.from,
      line: first.line,
      rule: "cycle",
      detail: `${key} (${imports.length} import${imports.length === 1 ? "" : "s"}, first ` +
        `${first.to}) closes the cycle ${[a, ...back].join(" → ")}`,
    });
  }
  return out;
}

/**
 * Folders that a `deno compile` task embeds whole (`--include DIR`) must not carry tests or
 * test support, unless an `--exclude` of a folder leaves them out (Deno 2.9 honours `--exclude`
 * for folders, not for single files).
 */
async function compileIncludes(root: string, infos: Map<string, FileInfo>): Promise<Violation[]> {
  const text = await Deno.readTextFile(join(root, "deno.json"));
  const tasks: Record<string, string> = JSON.parse(text).tasks ?? {};
  const out: Violation[] = [];
  for (const [name, command] of Object.entries(tasks)) {
    if (!command.startsWith("deno compile")) continue;
    const args = command.split(/\s+/);
    const values = (flag: string) =>
      args.flatMap((a, i) =>
        a === flag ? [args[i + 1]] : a.startsWith(`${flag}=`) ? [a.slice(flag.length + 1)] : []
      ).map((v) => v.replace(/^\.\//, "").replace(/\/$/, ""));
    const excludes = values("--exclude");
    for (const include of values("--include")) {
      const shipped = [...infos.values()].filter((f) =>
        f.kind !== "production" && f.path.startsWith(`${include}/`) &&
        !excludes.some((x) => f.path.startsWith(`${x}/`))
      );
      if (shipped.length > 0) {
        const line = text.slice(0, text.indexOf(`"${name}"`)).split("\n").length;
        out.push({
          file: "deno.json",
          line,
          rule: "compile-ships-tests",
          detail: `task ${name}: --include ${include} embeds ${shipped.length} test files ` +
            `(e.g. ${shipped[0].path})`,
        });
      }
    }
  }
  return out;
}

/** Reads the exceptions file: `file: rule` per line, `#` comments. */
export async function readExceptions(root: string): Promise<LayerException[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(root, EXCEPTIONS_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const out: LayerException[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const match = line.match(/^(\S+):\s*(\S+)$/);
    if (!match || !(match[2] in RULE_TEXT)) {
      throw new Error(
        `Cannot read ${EXCEPTIONS_FILE}:${index + 1}: expected "file: rule", rule one of ` +
          Object.keys(RULE_TEXT).join(", "),
      );
    }
    out.push({ file: match[1], rule: match[2] as RuleId, line: index + 1 });
  });
  return out;
}

/** The report as lines for a terminal, one per violation. */
export function formatReport(report: LayerReport): string[] {
  const lines = report.violations.map((v) => `${v.file}:${v.line}: ${v.rule}: ${v.detail}`);
  for (const s of report.stale) {
    lines.push(
      `${EXCEPTIONS_FILE}:${s.line}: stale exception: ${s.file} no longer breaks "${s.rule}": ` +
        `remove the line`,
    );
  }
  const rules = new Set(report.violations.map((v) => v.rule));
  for (const rule of rules) lines.push(`rule ${rule}: ${RULE_TEXT[rule]}`);
  lines.push(
    `layers: ${report.files} files, ${report.violations.length} violations, ` +
      `${report.exceptions.length} exceptions remain in ${EXCEPTIONS_FILE} ` +
      `(${report.excepted.length} violations excepted)`,
  );
  return lines;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? dirname(dirname(new URL(import.meta.url).pathname));
  try {
    const report = await checkLayers(root);
    for (const line of formatReport(report)) console.log(line);
    Deno.exit(report.violations.length + report.stale.length === 0 ? 0 : 1);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
