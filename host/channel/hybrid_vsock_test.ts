/**
 * The hybrid vsock handshake against a real unix-socket server that speaks its VMM side (Cloud
 * Hypervisor cannot run on our build machines, so the server stands in for its vsock socket).
 */
import assert from "node:assert/strict";
import {
  connectHybridVsock,
  connectHybridVsockRetrying,
  HybridVsockError,
} from "./hybrid_vsock.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A VMM-side hybrid vsock socket; `answer` gets the request line and the connection. */
async function vmmSocket(answer: (request: string, conn: Deno.Conn) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/vsock.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const requests: string[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      const request = await readLine(conn);
      requests.push(request);
      await answer(request, conn);
    }
  })();
  return {
    path,
    requests,
    async [Symbol.asyncDispose]() {
      listener.close();
      await served.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Read one line byte by byte, so nothing after it is consumed. */
async function readLine(conn: Deno.Conn): Promise<string> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while ((await conn.read(one)) === 1 && one[0] !== 0x0a) bytes.push(one[0]);
  return decoder.decode(new Uint8Array(bytes));
}

async function readN(stream: ReadableStream<Uint8Array>, n: number): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (text.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  reader.releaseLock();
  return text;
}

Deno.test("hybrid vsock: CONNECT, OK, then the stream both ways", async () => {
  await using vmm = await vmmSocket(async (_request, conn) => {
    await conn.write(encoder.encode("OK 1073741824\n"));
    const echoed = await readLine(conn);
    await conn.write(encoder.encode(`echo:${echoed}\n`));
    conn.close();
  });
  const stream = await connectHybridVsock(vmm.path, 1024);
  assert.equal(stream.hostPort, 1073741824);
  const writer = stream.writable.getWriter();
  await writer.write(encoder.encode("ping\n"));
  writer.releaseLock();
  assert.equal(await readN(stream.readable, 10), "echo:ping\n");
  assert.deepEqual(vmm.requests, ["CONNECT 1024"]);
  stream.close();
});

Deno.test("hybrid vsock: the guest's first bytes in the OK line's write are kept", async () => {
  const hello = new Uint8Array([0x00, 0x00, 0x00, 0x05, 0xa1, 0x61, 0x61, 0x0a, 0xff]);
  await using vmm = await vmmSocket(async (_request, conn) => {
    const ok = encoder.encode("OK 52\n");
    const both = new Uint8Array(ok.length + hello.length);
    both.set(ok);
    both.set(hello, ok.length);
    await conn.write(both);
    conn.close();
  });
  const stream = await connectHybridVsock(vmm.path, 52);
  const received = new Uint8Array(await new Response(stream.readable).arrayBuffer());
  assert.deepEqual(received, hello);
});

Deno.test("hybrid vsock: an OK line split over several writes", async () => {
  await using vmm = await vmmSocket(async (_request, conn) => {
    for (const part of ["O", "K 7", "\nfirst", " bytes"]) {
      await conn.write(encoder.encode(part));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    conn.close();
  });
  const stream = await connectHybridVsock(vmm.path, 7);
  assert.equal(await new Response(stream.readable).text(), "first bytes");
});

Deno.test("hybrid vsock: a VMM that closes without answering refuses", async () => {
  await using vmm = await vmmSocket((_request, conn) => Promise.resolve(conn.close()));
  const error = await connectHybridVsock(vmm.path, 1024).catch((e) => e);
  assert.ok(error instanceof HybridVsockError);
  assert.equal(error.reason, "refused");
  assert.match(error.message, /nothing listens on that guest port/);
});

Deno.test("hybrid vsock: any answer but OK is a bad answer", async () => {
  for (const answer of ["ERR no listener\n", "OK\n", "OK x\n", "x".repeat(100)]) {
    await using vmm = await vmmSocket(async (_request, conn) => {
      await conn.write(encoder.encode(answer)).catch(() => {});
      conn.close();
    });
    const error = await connectHybridVsock(vmm.path, 1024).catch((e) => e);
    assert.ok(error instanceof HybridVsockError, answer);
    assert.equal(error.reason, "bad_answer", answer);
  }
});

Deno.test("hybrid vsock: a VMM that never answers times out", async () => {
  const held: Deno.Conn[] = [];
  await using vmm = await vmmSocket((_request, conn) => Promise.resolve(void held.push(conn)));
  const error = await connectHybridVsock(vmm.path, 1024, { timeoutMs: 100 }).catch((e) => e);
  assert.ok(error instanceof HybridVsockError);
  assert.equal(error.reason, "timeout");
  for (const conn of held) conn.close();
});

Deno.test("hybrid vsock: retrying waits for the socket and for the guest to listen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/vsock.sock`;
  const connecting = connectHybridVsockRetrying(path, 1024, AbortSignal.timeout(5000));
  await new Promise((resolve) => setTimeout(resolve, 50));
  // The socket exists now, but the guest listens only from the third attempt on.
  let attempts = 0;
  const listener = Deno.listen({ transport: "unix", path });
  const served = (async () => {
    for await (const conn of listener) {
      await readLine(conn);
      if (++attempts < 3) {
        conn.close();
        continue;
      }
      await conn.write(encoder.encode("OK 9\nhello"));
      conn.close();
      break; // Leaving the loop closes the listener.
    }
  })();
  const stream = await connecting;
  assert.equal(await new Response(stream.readable).text(), "hello");
  assert.equal(attempts, 3);
  await served;
  await Deno.remove(dir, { recursive: true });
});

Deno.test("hybrid vsock: retrying gives up when its signal aborts", async () => {
  const dir = await Deno.makeTempDir();
  const error = await connectHybridVsockRetrying(
    `${dir}/missing.sock`,
    1024,
    AbortSignal.timeout(100),
  ).catch((e) => e);
  assert.equal((error as Error).name, "TimeoutError");
  await Deno.remove(dir, { recursive: true });
});
