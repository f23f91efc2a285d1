/**
 * Line diffs in unified format (the hunks of `git diff`), computed with Myers' O(ND) algorithm
 * after trimming the common prefix and suffix. When the two sides differ in more than
 * {@linkcode MAX_EDIT_DISTANCE} lines the diff gives up on finding a minimal script and replaces
 * the differing middle wholesale: correct, just less tidy, and bounded in time and memory.
 *
 * @module
 */

/** Most differing lines Myers' search explores before falling back to a plain replacement. */
export const MAX_EDIT_DISTANCE = 2000;

/** One hunk's text (`@@ … @@` line and its lines, each ending in `\n`) and its counts. */
export interface UnifiedDiff {
  /** Hunk lines, each `" "`, `"-"` or `"+"` + line, or `"\\ No newline at end of file"`. */
  lines: string[];
  added: number;
  removed: number;
}

type Op = " " | "-" | "+";

/**
 * The unified diff of two texts with `context` lines around each change (default 3).
 *
 * @example
 * ```ts
 * import { unifiedDiff } from "./unified_diff.ts";
 * const diff = unifiedDiff("a\nb\nc\n", "a\nB\nc\n");
 * console.log(diff.lines.join("\n"));
 * // @@ -1,3 +1,3 @@
 * //  a
 * // -b
 * // +B
 * //  c
 * ```
 */
export function unifiedDiff(before: string, after: string, context = 3): UnifiedDiff {
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffOps(a, b);
  const result: UnifiedDiff = { lines: [], added: 0, removed: 0 };
  for (const hunk of hunks(ops, context)) {
    result.lines.push(hunkHeader(ops, hunk));
    for (let i = hunk.start; i < hunk.end; i++) {
      const { op, aIndex, bIndex } = ops[i];
      const side = op === "+" ? b : a;
      const index = op === "+" ? bIndex : aIndex;
      const line = side[index];
      if (line.endsWith("\n")) {
        result.lines.push(op + line.slice(0, -1), "\\ No newline at end of file");
      } else {
        result.lines.push(op + line);
      }
      if (op === "+") result.added++;
      if (op === "-") result.removed++;
    }
  }
  return result;
}

/** Lines without their `\n`, except a last line that lacks one, which keeps a `\n` marker: so
 * `"x"` and `"x\n"` compare different, as in git. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  else lines[lines.length - 1] += "\n";
  return lines;
}

interface Step {
  op: Op;
  aIndex: number;
  bIndex: number;
}

/** The edit script turning `a` into `b`, one step per line of either side. */
function diffOps(a: string[], b: string[]): Step[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < a.length - prefix && suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]
  ) suffix++;
  const steps: Step[] = [];
  for (let i = 0; i < prefix; i++) steps.push({ op: " ", aIndex: i, bIndex: i });
  const middle = myers(a.slice(prefix, a.length - suffix), b.slice(prefix, b.length - suffix));
  for (const [op, ai, bi] of middle) steps.push({ op, aIndex: ai + prefix, bIndex: bi + prefix });
  for (let i = suffix; i > 0; i--) {
    steps.push({ op: " ", aIndex: a.length - i, bIndex: b.length - i });
  }
  return steps;
}

/** Myers' greedy shortest edit script; deletions before insertions within a change. */
function myers(a: string[], b: string[]): [Op, number, number][] {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
        ? v[offset + k + 1]
        : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a.length, b.length);
    }
  }
  return replaceAll(n, m);
}

/** Walk the saved frontiers back from (n, m) to (0, 0). `trace[d]` holds V before step d. */
function backtrack(trace: Int32Array[], n: number, m: number): [Op, number, number][] {
  const out: [Op, number, number][] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d];
    const at = (k: number) => v[k + d + 1];
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) out.push([" ", --x, --y]);
    if (d > 0) {
      if (down) out.push(["+", x, --y]);
      else out.push(["-", --x, y]);
    }
  }
  return out.reverse();
}

function replaceAll(n: number, m: number): [Op, number, number][] {
  const out: [Op, number, number][] = [];
  for (let i = 0; i < n; i++) out.push(["-", i, 0]);
  for (let j = 0; j < m; j++) out.push(["+", n, j]);
  return out;
}

interface Hunk {
  start: number;
  end: number;
}

/** Ranges of steps to print: each change with `context` steps around it, close ones merged. */
function hunks(steps: Step[], context: number): Hunk[] {
  const out: Hunk[] = [];
  steps.forEach((step, i) => {
    if (step.op === " ") return;
    const start = Math.max(0, i - context);
    const end = Math.min(steps.length, i + context + 1);
    const last = out[out.length - 1];
    if (last && start <= last.end) last.end = end;
    else out.push({ start, end });
  });
  return out;
}

function hunkHeader(steps: Step[], hunk: Hunk): string {
  let aCount = 0;
  let bCount = 0;
  for (let i = hunk.start; i < hunk.end; i++) {
    if (steps[i].op !== "+") aCount++;
    if (steps[i].op !== "-") bCount++;
  }
  const first = steps[hunk.start];
  // An empty range is numbered after the line it follows, as in GNU diff and git.
  const aStart = aCount === 0 ? first.aIndex : first.aIndex + 1;
  const bStart = bCount === 0 ? first.bIndex : first.bIndex + 1;
  return `@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@`;
}

function range(start: number, count: number): string {
  return count === 1 ? `${start}` : `${start},${count}`;
}
