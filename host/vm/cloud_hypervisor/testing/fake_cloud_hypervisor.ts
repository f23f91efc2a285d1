/**
 * Test stand-in for the `cloud-hypervisor` binary, for ch_vm_test.ts: Cloud Hypervisor needs KVM,
 * which our build machines cannot provide, so this process stands beside the real thing. It
 * serves the REST API on `--api-socket path=PATH` (the subset agentbox uses), logs every request
 * as one JSON line to `--log FILE`, and on `vm.boot` / `vm.resume` serves the VM's hybrid vsock
 * socket: `CONNECT 1024\n` is answered with `OK <port>\n` and the connection is handed to the
 * real guest agent's session code (guest-agent/session.ts) in this process. The serial socket
 * gets one console line. `--fail ACTION` makes that action fail with HTTP 500 and an error body
 * like Cloud Hypervisor's. Not part of agentbox.
 *
 * Usage: `fake_cloud_hypervisor.ts --log FILE [--fail ACTION] --api-socket path=PATH`
 *
 * @module
 */

import { serveConnection } from "../../../../guest-agent/session.ts";

/** One logged API request. */
export interface LoggedRequest {
  method: string;
  action: string;
  body?: unknown;
}

/** The console line the fake writes to the serial socket. */
export const FAKE_CONSOLE_LINE = "fake-cloud-hypervisor: guest booted";

interface Args {
  log: string;
  fail?: string;
  apiSocket: string;
}

function parseArgs(args: string[]): Args {
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at < 0 ? undefined : args[at + 1];
  };
  const api = value("--api-socket");
  const log = value("--log");
  if (!api?.startsWith("path=") || !log) {
    throw new Error("usage: fake_cloud_hypervisor.ts --log FILE --api-socket path=PATH");
  }
  return { log, fail: value("--fail"), apiSocket: api.slice("path=".length) };
}

type VmState = "none" | "created" | "running" | "paused" | "shutdown";

async function main(args: Args): Promise<void> {
  let state: VmState = "none";
  let config: Record<string, unknown> | undefined;
  let vsock: Deno.Listener | undefined;
  let serial: Deno.Listener | undefined;
  const encoder = new TextEncoder();
  const log = (entry: LoggedRequest) =>
    Deno.writeTextFile(args.log, JSON.stringify(entry) + "\n", { append: true });
  const fail = (status: number, text: string) => new Response(text, { status });

  const startDevices = () => {
    const vsockConfig = config?.vsock as { socket: string };
    const serialConfig = config?.serial as { socket: string };
    vsock ??= serveVsock(vsockConfig.socket);
    serial ??= serveSerial(serialConfig.socket, encoder.encode(`${FAKE_CONSOLE_LINE}\n`));
  };

  const server = Deno.serve(
    { transport: "unix", path: args.apiSocket, onListen() {} },
    async (request) => {
      const action = new URL(request.url).pathname.replace("/api/v1/", "");
      const text = await request.text();
      const body = text ? JSON.parse(text) : undefined;
      await log({ method: request.method, action, ...(body === undefined ? {} : { body }) });
      if (action === args.fail) {
        return fail(500, `Error from API: The VM could not be ${action}: InjectedFailure`);
      }
      switch (action) {
        case "vmm.ping":
          return Response.json({ version: "v0.0.0-fake", pid: Deno.pid });
        case "vm.info": {
          const states = { created: "Created", running: "Running", paused: "Paused" } as const;
          if (state === "none") return fail(404, "Error from API: VM not created");
          const vmState = state === "shutdown" ? "Shutdown" : states[state];
          return Response.json({ config, state: vmState });
        }
        case "vm.create":
          if (state !== "none") return fail(400, "Error from API: VM already created");
          config = body;
          state = "created";
          return new Response(null, { status: 204 });
        case "vm.boot":
          if (state !== "created") return fail(404, "Error from API: VM not created");
          startDevices();
          state = "running";
          return new Response(null, { status: 204 });
        case "vm.pause":
          if (state !== "running") return fail(405, "Error from API: VM not running");
          state = "paused";
          return new Response(null, { status: 204 });
        case "vm.resume":
          if (state !== "paused") return fail(405, "Error from API: VM not paused");
          startDevices();
          state = "running";
          return new Response(null, { status: 204 });
        case "vm.snapshot": {
          if (state !== "paused") return fail(405, "Error from API: VM not paused");
          const dir = (body.destination_url as string).replace(/^file:\/\//, "");
          await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
          await Deno.writeTextFile(`${dir}/state.json`, "{}");
          await Deno.writeFile(`${dir}/memory-ranges`, new Uint8Array(4096));
          return new Response(null, { status: 204 });
        }
        case "vm.restore": {
          if (state !== "none") return fail(404, "Error from API: VM already created");
          const dir = (body.source_url as string).replace(/^file:\/\//, "");
          config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
          await Deno.stat(`${dir}/memory-ranges`);
          state = "paused";
          return new Response(null, { status: 204 });
        }
        case "vm.shutdown":
          vsock?.close();
          serial?.close();
          state = "shutdown";
          return new Response(null, { status: 204 });
        case "vmm.shutdown":
          setTimeout(() => Deno.exit(0), 10);
          return new Response(null, { status: 204 });
        default:
          return fail(404, `Error from API: unknown action ${action}`);
      }
    },
  );
  await server.finished;
}

/** The hybrid vsock socket: the handshake, then the real agent session on the connection. */
function serveVsock(path: string): Deno.Listener {
  const listener = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) {
      const line = await readLine(conn);
      if (line !== "CONNECT 1024") {
        conn.close();
        continue;
      }
      // The OK line and the agent's first bytes may share a read: the agent speaks at once.
      await conn.write(new TextEncoder().encode("OK 1073741824\n"));
      serveConnection(conn).catch(() => {});
    }
  })().catch(() => {});
  return listener;
}

function serveSerial(path: string, line: Uint8Array): Deno.Listener {
  const listener = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) await conn.write(line).catch(() => {});
  })().catch(() => {});
  return listener;
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while ((await conn.read(one)) === 1 && one[0] !== 0x0a) bytes.push(one[0]);
  return new TextDecoder().decode(new Uint8Array(bytes));
}

if (import.meta.main) {
  await main(parseArgs(Deno.args));
}
