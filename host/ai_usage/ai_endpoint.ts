/**
 * Which AI APIs agentbox recognises, from the request alone (method, host, path): the response
 * format to expect and who answers it. Nothing of the request body is read.
 *
 * @module
 */

import { modelName } from "./token_usage.ts";

/** The wire formats agentbox reads usage from. */
export type AiApi = "anthropic-messages" | "openai-chat" | "openai-responses" | "gemini";

/**
 * Who answered: the vendor when the host is the vendor's own API, otherwise
 * `<format>-compatible` (a gateway or self-hosted server speaking that format).
 */
export type AiProvider =
  | "anthropic"
  | "openai"
  | "gemini"
  | "mistral"
  | "anthropic-compatible"
  | "openai-compatible"
  | "gemini-compatible";

/** A request recognised as an AI API call. */
export interface AiEndpoint {
  api: AiApi;
  provider: AiProvider;
  /** The model named in the path (Gemini puts it there), used when the response names none. */
  pathModel?: string;
}

const VENDOR_HOSTS: Record<string, AiProvider> = {
  "api.anthropic.com": "anthropic",
  "api.openai.com": "openai",
  "generativelanguage.googleapis.com": "gemini",
  "aiplatform.googleapis.com": "gemini",
  "api.mistral.ai": "mistral",
  "codestral.mistral.ai": "mistral",
};

const GEMINI_PATH = /\/models\/([^/:]{1,128}):(?:generateContent|streamGenerateContent)$/;

/**
 * Recognise an AI API call by method, canonical host and URL path (without the query). Returns
 * `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { detectAiEndpoint } from "./ai_endpoint.ts";
 * const e = detectAiEndpoint("POST", "api.anthropic.com", "/v1/messages");
 * console.assert(e?.api === "anthropic-messages" && e.provider === "anthropic");
 * console.assert(detectAiEndpoint("POST", "gw.example", "/v1/chat/completions")?.provider === "openai-compatible");
 * ```
 */
export function detectAiEndpoint(
  method: string,
  host: string,
  pathname: string,
): AiEndpoint | undefined {
  if (method !== "POST" || pathname.length > 2048) return undefined;
  const vendor = vendorOf(host);
  if (/\/v1\/messages$/.test(pathname)) {
    return { api: "anthropic-messages", provider: own(vendor, "anthropic") };
  }
  if (
    /\/chat\/completions$/.test(pathname) ||
    (vendor === "mistral" && /\/fim\/completions$/.test(pathname))
  ) {
    return {
      api: "openai-chat",
      provider: vendor === "mistral" ? "mistral" : own(vendor, "openai"),
    };
  }
  if (/\/v1\/responses$/.test(pathname)) {
    return { api: "openai-responses", provider: own(vendor, "openai") };
  }
  const gemini = GEMINI_PATH.exec(pathname);
  if (gemini) {
    return {
      api: "gemini",
      provider: own(vendor, "gemini"),
      pathModel: modelName(safeDecode(gemini[1])),
    };
  }
  return undefined;
}

function vendorOf(host: string): AiProvider | undefined {
  if (VENDOR_HOSTS[host]) return VENDOR_HOSTS[host];
  // Vertex AI: <region>-aiplatform.googleapis.com
  if (/^[a-z0-9-]+-aiplatform\.googleapis\.com$/.test(host)) return "gemini";
  return undefined;
}

function own(
  vendor: AiProvider | undefined,
  format: "anthropic" | "openai" | "gemini",
): AiProvider {
  return vendor === format ? format : `${format}-compatible`;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
