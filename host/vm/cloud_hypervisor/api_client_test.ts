/**
 * The API client against an HTTP server on a unix socket that answers like Cloud Hypervisor's
 * (which cannot run on our build machines): methods, paths, JSON bodies and error mapping.
 */
import assert from "node:assert/strict";
import { CloudHypervisorApi, CloudHypervisorError } from "./api_client.ts";
import { chVmConfig } from "./vm_config.ts";

interface Seen {
  method: string;
  path: string;
  type: string | null;
  body: string;
}

async function apiServer(answer: (seen: Seen) => Response) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/api.sock`;
  const seen: Seen[] = [];
  const server = Deno.serve({ transport: "unix", path, onListen() {} }, async (request) => {
    const entry = {
      method: request.method,
      path: new URL(request.url).pathname,
      type: request.headers.get("content-type"),
      body: await request.text(),
    };
    seen.push(entry);
    return answer(entry);
  });
  return {
    path,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const noContent = () => new Response(null, { status: 204 });

Deno.test("ch api: every action is its method and path; bodies are JSON", async () => {
  await using server = await apiServer((seen) =>
    seen.path.endsWith("vmm.ping")
      ? Response.json({ version: "v43.0" })
      : seen.path.endsWith("vm.info")
      ? Response.json({ state: "Running" })
      : noContent()
  );
  const api = new CloudHypervisorApi(server.path);
  const config = chVmConfig({
    kernel: "/k",
    initrd: "/i",
    rootfs: "/r",
    cpus: 1,
    memoryMb: 256,
    runtimeDir: "/run/vm",
    bootTimeoutMs: 1000,
  });
  assert.equal((await api.ping()).version, "v43.0");
  await api.createVm(config);
  await api.bootVm();
  assert.equal((await api.info()).state, "Running");
  await api.pauseVm();
  await api.snapshotVm({ destination_url: "file:///s/snap" });
  await api.resumeVm();
  await api.shutdownVm();
  await api.restoreVm({ source_url: "file:///s/snap" });
  await api.shutdownVmm();
  api.close();
  assert.deepEqual(server.seen.map((s) => `${s.method} ${s.path}`), [
    "GET /api/v1/vmm.ping",
    "PUT /api/v1/vm.create",
    "PUT /api/v1/vm.boot",
    "GET /api/v1/vm.info",
    "PUT /api/v1/vm.pause",
    "PUT /api/v1/vm.snapshot",
    "PUT /api/v1/vm.resume",
    "PUT /api/v1/vm.shutdown",
    "PUT /api/v1/vm.restore",
    "PUT /api/v1/vmm.shutdown",
  ]);
  assert.deepEqual(JSON.parse(server.seen[1].body), config);
  assert.equal(server.seen[1].type, "application/json");
  assert.deepEqual(JSON.parse(server.seen[5].body), { destination_url: "file:///s/snap" });
  assert.deepEqual(JSON.parse(server.seen[8].body), { source_url: "file:///s/snap" });
  assert.equal(server.seen[2].body, "");
});

Deno.test("ch api: an error status becomes CloudHypervisorError with the API's text", async () => {
  await using server = await apiServer(() =>
    new Response("Error from API: The VM could not boot: KernelLoad(InvalidElfMagicNumber)\n", {
      status: 500,
    })
  );
  const api = new CloudHypervisorApi(server.path);
  const error = await api.bootVm().catch((e) => e);
  api.close();
  assert.ok(error instanceof CloudHypervisorError);
  assert.equal(error.action, "vm.boot");
  assert.equal(error.status, 500);
  assert.equal(
    error.message,
    "Cloud Hypervisor refused vm.boot (HTTP 500): Error from API: The VM could not boot: " +
      "KernelLoad(InvalidElfMagicNumber)",
  );
});

Deno.test("ch api: an empty error body falls back to the status text", async () => {
  await using server = await apiServer(() => new Response(null, { status: 405 }));
  const api = new CloudHypervisorApi(server.path);
  const error = await api.pauseVm().catch((e) => e);
  api.close();
  assert.match(
    error.message,
    /^Cloud Hypervisor refused vm\.pause \(HTTP 405\): Method Not Allowed$/,
  );
});

Deno.test("ch api: a missing socket is a CloudHypervisorError naming it", async () => {
  const dir = await Deno.makeTempDir();
  const api = new CloudHypervisorApi(`${dir}/none.sock`);
  const error = await api.ping().catch((e) => e);
  api.close();
  await Deno.remove(dir);
  assert.ok(error instanceof CloudHypervisorError);
  assert.equal(error.status, undefined);
  assert.match(
    error.message,
    /^Cannot reach Cloud Hypervisor's API at .*none\.sock \(vmm\.ping\)$/,
  );
});

Deno.test("ch api: a ping without a version is refused", async () => {
  await using server = await apiServer(() => Response.json({}));
  const api = new CloudHypervisorApi(server.path);
  await assert.rejects(api.ping(), CloudHypervisorError);
  api.close();
});
