/**
 * Run by host_address_test.ts and learn_test.ts inside a network namespace they made (never on
 * its own):
 *
 * - `serve PORT NAME [CERT KEY]`: an HTTP server on `[::]:PORT` (every address, IPv4 too)
 *   answering `hello from NAME`; HTTPS with the PEM files CERT and KEY when given; prints
 *   `listening` once up.
 * - `probe PORT`: the same server as "a service of this host", the real proxy with the system's
 *   interface addresses, a table resolver and the direct dialer; sends one plain-HTTP request per
 *   name through the proxy plus one straight to the host's address, and prints a JSON report.
 */
import { applyConfigText } from "../../host/config/load_config.ts";
import { emptyPolicy } from "../../host/config/policy.ts";
import { startProxy } from "../../host/proxy/mod.ts";
import { readUntilText, tableResolver } from "../../host/proxy/testing/mod.ts";

export const NAMES: Record<string, string[]> = {
  "self4.test": ["198.51.100.1"],
  "self6.test": ["2001:db8::1"],
  "peer4.test": ["198.51.100.2"],
  "peer6.test": ["2001:db8::2"],
};

const [command, portText, name, certFile, keyFile] = Deno.args;
const port = Number(portText);

function serve(label: string, onRequest = () => {}) {
  const tls = certFile
    ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
    : {};
  return Deno.serve({ hostname: "::", port, onListen() {}, ...tls }, () => {
    onRequest();
    return new Response(`hello from ${label}\n`);
  });
}

async function viaProxy(proxyPort: number, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  try {
    await conn.write(new TextEncoder().encode(
      `GET http://${host}:${port}/ HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`,
    ));
    return await readUntilText(conn, () => false);
  } finally {
    conn.close();
  }
}

if (command === "serve") {
  serve(name);
  console.log("listening");
} else if (command === "probe") {
  let hits = 0;
  const server = serve("this host", () => hits++);
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[network]\nallow = ${JSON.stringify(Object.keys(NAMES))}\nhttp_ports = [${port}]\n`,
    "probe.toml",
  );
  const proxy = startProxy({
    policy,
    recorder: { begin: () => 0, finish() {} },
    resolver: tableResolver(NAMES).resolver,
  });
  const answers: Record<string, string> = {};
  for (const host of Object.keys(NAMES)) answers[host] = await viaProxy(proxy.addr.port, host);
  const hitsThroughProxy = hits;
  // Control: the host's service does answer on that address when nothing is in between.
  const direct = await (await fetch(`http://198.51.100.1:${port}/`)).text();
  console.log(JSON.stringify({ answers, hitsThroughProxy, direct, hits }));
  await proxy.close();
  await server.shutdown();
}
