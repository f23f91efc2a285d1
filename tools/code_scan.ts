/**
 * Finds the calls only an edge may make (printing, prompting, exiting, reading argv, stdin or the
 * working directory) in TypeScript source, ignoring comments, doc examples and string contents.
 *
 * @module
 */

/** A call only an edge may make, found at a 1-based line. */
export interface EdgeOnlyUse {
  line: number;
  /** What was used, e.g. `console.log`, `Deno.exit`, `confirm()`. */
  token: string;
}

const EDGE_ONLY = [
  /(?<![\w$.])(?:globalThis\s*\.\s*)?(console)\s*\??\.\s*(\w+)/g,
  /(?<![\w$.])(?:globalThis\s*\.\s*)?(Deno)\s*\.\s*(exit|args|stdin|stdout|stderr|cwd)\b/g,
  /(?<![\w$.]|function\s+)(?:globalThis\s*\.\s*)?(prompt|confirm|alert)\s*\(/g,
];

/**
 * Every use of `console`, `Deno.exit`, `Deno.args`, `Deno.stdin`, `Deno.cwd`, `prompt`,
 * `confirm` or `alert` in code (comments and literal text do not count).
 *
 * @example
 * ```ts
 * import { findEdgeOnlyUses } from "./code_scan.ts";
 * const uses = findEdgeOnlyUses('// console.log("no")\nconsole.error("yes");\n');
 * console.assert(uses.length === 1 && uses[0].line === 2 && uses[0].token === "console.error");
 * ```
 */
export function findEdgeOnlyUses(source: string): EdgeOnlyUse[] {
  const code = blankNonCode(source);
  const uses: EdgeOnlyUse[] = [];
  for (const pattern of EDGE_ONLY) {
    for (const match of code.matchAll(pattern)) {
      const token = match[2] ? `${match[1]}.${match[2]}` : `${match[1]}()`;
      uses.push({ line: lineAt(code, match.index), token });
    }
  }
  return uses.sort((a, b) => a.line - b.line);
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Characters after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER = new Set("(,=:[!&|?{};+-*%<>~^".split(""));
const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await",
]);

/**
 * The source with comments, string and template text and regular expressions replaced by
 * spaces (line breaks kept, so offsets and line numbers still match); `${…}` inside templates
 * stays code.
 *
 * @example
 * ```ts
 * import { blankNonCode } from "./code_scan.ts";
 * console.assert(blankNonCode('f("x"); // y') === 'f(" ");     ');
 * ```
 */
export function blankNonCode(source: string): string {
  const out = source.split("");
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  // Brace depth of each open template substitution, innermost last.
  const templates: number[] = [];
  let depth = 0;
  let lastSignificant = "";
  let lastWord = "";
  let i = 0;
  const n = source.length;
  const skipTemplateText = (): void => {
    // At the first character after "`" or after a substitution's "}".
    const start = i;
    while (i < n) {
      const c = source[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        blank(start, i);
        i++;
        lastSignificant = "`";
        lastWord = "";
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        blank(start, i);
        i += 2;
        templates.push(depth);
        depth++;
        lastSignificant = "{";
        lastWord = "";
        return;
      } else i++;
    }
    blank(start, n);
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      blank(i, end === -1 ? n : end);
      i = end === -1 ? n : end;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      blank(i, end === -1 ? n : end + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < n && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      blank(start, Math.min(i, n));
      i++;
      lastSignificant = c;
      lastWord = "";
    } else if (c === "`") {
      i++;
      skipTemplateText();
    } else if (
      c === "/" && (lastSignificant === "" || REGEX_AFTER.has(lastSignificant) ||
        REGEX_AFTER_WORDS.has(lastWord))
    ) {
      const start = i++;
      let inClass = false;
      while (i < n && source[i] !== "\n") {
        const r = source[i];
        if (r === "\\") i += 2;
        else if (r === "[") (inClass = true, i++);
        else if (r === "]") (inClass = false, i++);
        else if (r === "/" && !inClass) break;
        else i++;
      }
      blank(start + 1, Math.min(i, n));
      i++;
      lastSignificant = ")";
      lastWord = "";
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
      templates.pop();
      depth--;
      i++;
      skipTemplateText();
    } else {
      if (c === "{") depth++;
      else if (c === "}") depth--;
      if (/[\w$]/.test(c)) {
        let j = i;
        while (j < n && /[\w$]/.test(source[j])) j++;
        lastWord = source.slice(i, j);
        lastSignificant = "a";
        i = j;
        continue;
      }
      if (!/\s/.test(c)) {
        lastSignificant = c;
        lastWord = "";
      }
      i++;
    }
  }
  return out.join("");
}
