/**
 * What each source file of agentbox is — its room, its layer, production or test — and which
 * imports between them the dependency rule allows (docs/architecture.md, "Layers and the
 * dependency rule"). Pure functions over repository-relative paths; `check_layers.ts` applies them.
 *
 * @module
 */

/** The host's layers, top to bottom, plus the guest agent. */
export type Layer = "edge" | "api" | "mechanism" | "utility" | "protocol" | "guest";

/** Production code, test support (`testing/` folders), tests, or developer tools. */
export type FileKind = "production" | "test-support" | "test" | "tool";

/** Stable names of the rules, as written in the exceptions file. */
export type RuleId =
  | "layer"
  | "edge-through-api"
  | "guest-boundary"
  | "test-support"
  | "cycle"
  | "edge-only"
  | "test-naming"
  | "unknown-room"
  | "compile-ships-tests";

/** One line of the rule, printed with each violation. */
export const RULE_TEXT: Record<RuleId, string> = {
  "layer": "a layer imports only its own layer and the layers below it " +
    "(edges → host/api → mechanisms → utilities and @agentbox/protocol)",
  "edge-through-api": "an edge calls mechanisms only through host/api " +
    "(it may import a mechanism's types with `import type`)",
  "guest-boundary": "guest-agent imports only its own files and the protocol; the protocol " +
    "imports only itself",
  "test-support": "production code never imports test support, tests or tools",
  "cycle": "no import cycles between rooms",
  "edge-only": "only edges print, prompt, exit, or read argv, stdin and the cwd",
  "test-naming": "test support lives in a testing/ folder of the room it serves",
  "unknown-room": "every host/ folder is in the layer table (tools/layer_rules.ts)",
  "compile-ships-tests": "deno compile must not embed tests or test support",
};

/** Mechanism rooms under `host/`. `image/` is a mechanism too (the host builds and finds images). */
export const MECHANISM_ROOMS = [
  "vm",
  "channel",
  "net",
  "proxy",
  "tls",
  "credentials",
  "ai_usage",
  "workspace",
  "store",
  "config",
  "session",
  "egress",
  "system",
  "audit",
] as const;

const EDGE_ROOMS = ["cli", "serve"];

/** Files that are a program's edge: they may print, exit and read argv. */
const EDGE_FILES = ["host/main.ts", "guest-agent/main.ts"];

/** Top-level source folders the check walks. */
export const SOURCE_DIRS = ["host", "guest-agent", "image", "tests", "tools"];

/** The folder name test support lives in. */
export const TEST_SUPPORT_DIR = "testing";

/** What a file is. `room` is the unit of the cycle rule: a folder directly under host/, etc. */
export interface FileInfo {
  path: string;
  kind: FileKind;
  room: string;
  /** Undefined for tests and tools, and for a host/ folder not in the table. */
  layer?: Layer;
  /** An edge file may print, prompt, exit and read argv, stdin and the cwd. */
  edge: boolean;
}

/**
 * Classifies a repository-relative path.
 *
 * @example
 * ```ts
 * import { classify } from "./layer_rules.ts";
 * const info = classify("host/vm/qemu/argv.ts");
 * console.assert(info.room === "host/vm" && info.layer === "mechanism" && info.kind === "production");
 * console.assert(classify("host/proxy/testing/fixture.ts").kind === "test-support");
 * ```
 */
export function classify(path: string): FileInfo {
  const parts = path.split("/");
  const kind: FileKind = parts[0] === "tools"
    ? "tool"
    : parts[0] === "tests" || path.endsWith("_test.ts")
    ? "test"
    : parts.includes(TEST_SUPPORT_DIR)
    ? "test-support"
    : "production";
  const edge = EDGE_FILES.includes(path) ||
    (parts[0] === "host" && parts.length > 2 && EDGE_ROOMS.includes(parts[1]));
  const info = (room: string, layer?: Layer): FileInfo => ({ path, kind, room, layer, edge });
  switch (parts[0]) {
    case "host": {
      if (parts.length === 2) {
        return path === "host/main.ts" ? info(path, "edge") : info("host", "utility");
      }
      const room = `host/${parts[1]}`;
      if (EDGE_ROOMS.includes(parts[1])) return info(room, "edge");
      if (parts[1] === "api") return info(room, "api");
      if ((MECHANISM_ROOMS as readonly string[]).includes(parts[1])) return info(room, "mechanism");
      return info(room);
    }
    case "guest-agent":
      return parts[1] === "protocol"
        ? info("guest-agent/protocol", "protocol")
        : info("guest-agent", "guest");
    case "image":
      return info("image", "mechanism");
    default:
      return info(parts[0]);
  }
}

const RANK: Record<Layer, number> = {
  edge: 3,
  api: 2,
  mechanism: 1,
  utility: 0,
  protocol: 0,
  guest: -1,
};

/**
 * The rule an import from `from` to `to` breaks, or undefined when it is allowed. Cycles are
 * found over the whole graph (`check_layers.ts`), not here.
 *
 * @example
 * ```ts
 * import { classify, importViolation } from "./layer_rules.ts";
 * const rule = importViolation(classify("host/session/names.ts"), classify("host/cli/errors.ts"));
 * console.assert(rule === "layer");
 * const cli = classify("host/cli/ps.ts"), store = classify("host/store/sessions.ts");
 * console.assert(importViolation(cli, store) === "edge-through-api");
 * console.assert(importViolation(cli, store, { typeOnly: true }) === undefined);
 * ```
 */
export function importViolation(
  from: FileInfo,
  to: FileInfo,
  options: { typeOnly?: boolean } = {},
): RuleId | undefined {
  if (from.kind === "test" || from.kind === "tool") return undefined;
  const guestSide = (f: FileInfo) => f.layer === "guest" || f.layer === "protocol";
  if (from.kind === "test-support") {
    // Test support may use anything, except that the guest's never reaches into the host.
    return guestSide(from) && !guestSide(to) ? "guest-boundary" : undefined;
  }
  if (to.kind !== "production") return "test-support";
  if (from.layer === "protocol") return to.layer === "protocol" ? undefined : "guest-boundary";
  if (from.layer === "guest") return guestSide(to) ? undefined : "guest-boundary";
  if (to.layer === "guest") return undefined; // the host may reuse guest code (pty, layout)
  if (from.layer === undefined || to.layer === undefined) return undefined; // unknown-room says it
  if (from.layer === "utility") {
    return to.layer === "utility" || to.layer === "protocol" ? undefined : "layer";
  }
  if (RANK[to.layer] > RANK[from.layer]) return "layer";
  if (from.layer === "edge" && to.layer === "mechanism" && !options.typeOnly) {
    return "edge-through-api";
  }
  return undefined;
}

/** Names that say "test support" when they sit outside a testing/ folder. */
const TEST_SUPPORT_NAME =
  /^(testing|testdata|fixtures?|fakes?|mocks?)$|^(test|fake|mock)_|_(fixtures?|fakes?|mocks?|testing)$/;

/**
 * True when a production-classified path is named like test support (`testing.ts`,
 * `*_fixtures.ts`, `fake_*.ts`, `test_*.ts`, a `testdata/` folder…): it belongs in `testing/`.
 *
 * @example
 * ```ts
 * import { misnamedTestSupport } from "./layer_rules.ts";
 * console.assert(misnamedTestSupport("host/ai_usage/provider_fixtures.ts"));
 * console.assert(!misnamedTestSupport("host/ai_usage/testing/provider_fixtures.ts"));
 * ```
 */
export function misnamedTestSupport(path: string): boolean {
  const info = classify(path);
  if (info.kind !== "production") return false;
  return path.replace(/\.ts$/, "").split("/").some((part) => TEST_SUPPORT_NAME.test(part));
}
