import assert from "node:assert/strict";
import { detectAiEndpoint } from "./ai_endpoint.ts";

Deno.test("endpoint: vendors, gateways and non-AI paths", () => {
  const at = (host: string, path: string, method = "POST") => {
    const e = detectAiEndpoint(method, host, path);
    return e && `${e.api} ${e.provider}${e.pathModel ? ` ${e.pathModel}` : ""}`;
  };
  assert.equal(at("api.anthropic.com", "/v1/messages"), "anthropic-messages anthropic");
  assert.equal(at("api.anthropic.com", "/v1/messages/count_tokens"), undefined);
  assert.equal(at("api.anthropic.com", "/v1/messages", "GET"), undefined);
  assert.equal(at("api.openai.com", "/v1/chat/completions"), "openai-chat openai");
  assert.equal(at("api.openai.com", "/v1/responses"), "openai-responses openai");
  assert.equal(at("openrouter.ai", "/api/v1/chat/completions"), "openai-chat openai-compatible");
  assert.equal(at("api.mistral.ai", "/v1/chat/completions"), "openai-chat mistral");
  assert.equal(at("codestral.mistral.ai", "/v1/fim/completions"), "openai-chat mistral");
  assert.equal(at("example.com", "/v1/fim/completions"), undefined);
  assert.equal(
    at("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent"),
    "gemini gemini gemini-2.0-flash",
  );
  assert.equal(
    at(
      "us-central1-aiplatform.googleapis.com",
      "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent",
    ),
    "gemini gemini gemini-2.5-pro",
  );
  assert.equal(at("api.anthropic.com", "/v1/models"), undefined);
  assert.equal(
    at("generativelanguage.googleapis.com", "/v1/models/a%1B%5B2J%20b:generateContent"),
    "gemini gemini",
    "a model name with controls or spaces in the path is dropped",
  );
});
