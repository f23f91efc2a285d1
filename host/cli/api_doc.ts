/**
 * `docs/api.md` is rendered from the server's OpenAPI document (the routes' own schemas): one
 * section per route, then every named schema. `deno task docs:api` rewrites it; a test fails when
 * it is stale, so the reference cannot drift from the code.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { openApiDocument } from "./serve.ts";

/** The reference's path. */
export const API_DOC = fileURLToPath(new URL("../../docs/api.md", import.meta.url));

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean; description?: string }[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
  responses?: Record<string, { description?: string; content?: Record<string, unknown> }>;
}

/**
 * The markdown of docs/api.md for `doc` (an OpenAPI 3.1 document).
 *
 * @example
 * ```ts
 * import { renderApiDoc } from "./api_doc.ts";
 * const md = renderApiDoc({ info: { version: "1" }, paths: { "/x": { get: { summary: "X" } } } });
 * console.assert(md.includes("### GET /x"));
 * ```
 */
export function renderApiDoc(doc: {
  info: { version: string };
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}): string {
  const lines = [
    "# The REST API (`agentbox serve`)",
    "",
    "<!-- Generated from the server's routes by `deno task docs:api`: do not edit by hand. -->",
    "",
    "How to run the server, authenticate and use the SDKs is in [serve.md](serve.md). The",
    "machine-readable form of this page is `GET /openapi.json` (`agentbox serve openapi`).",
    'Every error is `{"error": {"kind", "code", "message"}}` with the status the kind maps to',
    "(400 usage, 401 no or wrong token, 404 not_found, 409 conflict or state, 413 body too large,",
    "422 command_not_found, 500 vm/failed/internal, 502 guest, 503 unavailable, 504 timeout).",
    "",
    "## Routes",
    "",
  ];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, value] of Object.entries(methods)) {
      const op = value as Operation;
      lines.push(`### ${method.toUpperCase()} ${path}`, "", op.summary ?? "", "");
      const params = op.parameters ?? [];
      if (params.length > 0) {
        lines.push("| parameter | in | required | description |", "| --- | --- | --- | --- |");
        for (const p of params) {
          lines.push(
            `| \`${p.name}\` | ${p.in} | ${p.required ? "yes" : "no"} | ${cell(p.description)} |`,
          );
        }
        lines.push("");
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        const ref = media.schema?.$ref?.split("/").pop();
        lines.push(`Body: \`${type}\`${ref ? ` ([${ref}](#${ref.toLowerCase()}))` : ""}`, "");
      }
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const types = Object.keys(response.content ?? {}).map((t) => `\`${t}\``).join(", ");
        lines.push(`- **${status}** ${cell(response.description)}${types ? ` — ${types}` : ""}`);
      }
      lines.push("");
    }
  }
  lines.push("## Schemas", "");
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    lines.push(`### ${name}`, "", "```json", JSON.stringify(schema, null, 2), "```", "");
  }
  return lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

function cell(text: string | undefined): string {
  return (text ?? "").replaceAll("|", "\\|").replaceAll("\n", " ");
}

if (import.meta.main) {
  await Deno.writeTextFile(
    API_DOC,
    renderApiDoc(openApiDocument() as Parameters<typeof renderApiDoc>[0]),
  );
  console.log(`wrote ${API_DOC}`);
}
