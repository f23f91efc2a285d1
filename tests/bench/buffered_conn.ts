/**
 * A client connection with a read buffer, for benchmark load generators: reads HTTP heads and
 * bodies without losing the bytes that follow them. Not a parser for hostile input.
 *
 * @module
 */

const dec = new TextDecoder();

/** A connection with a read buffer, for parsing heads without losing the bytes after them. */
export class BufferedConn<C extends Deno.Conn = Deno.TcpConn> {
  #buf = new Uint8Array(0);
  constructor(readonly conn: C) {}

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** The head up to and including the blank line, as text. */
  async readHead(): Promise<string> {
    let from = 0;
    for (;;) {
      for (let i = from; i + 3 < this.#buf.length; i++) {
        if (
          this.#buf[i] === 13 && this.#buf[i + 1] === 10 && this.#buf[i + 2] === 13 &&
          this.#buf[i + 3] === 10
        ) {
          return dec.decode(this.#take(i + 4));
        }
      }
      from = Math.max(0, this.#buf.length - 3);
      await this.#fill();
    }
  }

  async readExact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#fill();
    return this.#take(n);
  }

  async #readLine(): Promise<string> {
    for (;;) {
      const at = this.#buf.indexOf(10);
      if (at >= 0) return dec.decode(this.#take(at + 1)).trim();
      await this.#fill();
    }
  }

  /** Read the body the head announces (Content-Length or chunked); returns its length. */
  async readBody(head: string): Promise<number> {
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length) return (await this.readExact(Number(length[1]))).length;
    if (!/\r\ntransfer-encoding: *chunked/i.test(head)) throw new Error("unframed response");
    let total = 0;
    for (;;) {
      const size = parseInt(await this.#readLine(), 16);
      if (size === 0) break;
      total += (await this.readExact(size + 2)).length - 2;
    }
    while ((await this.#readLine()) !== "");
    return total;
  }

  /** Consume a `Content-Length` body without keeping it (for large bodies); returns its length. */
  async discardBody(head: string): Promise<number> {
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) throw new Error("discardBody needs a Content-Length");
    const total = Number(length[1]);
    let left = total - this.#take(Math.min(total, this.#buf.length)).length;
    const scratch = new Uint8Array(256 * 1024);
    while (left > 0) {
      const n = await this.conn.read(scratch.subarray(0, Math.min(left, scratch.length)));
      if (n === null) throw new Error("connection closed");
      left -= n;
    }
    return total;
  }

  close(): void {
    safeClose(this.conn);
  }
}

export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<number> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
  return data.length;
}

export function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
