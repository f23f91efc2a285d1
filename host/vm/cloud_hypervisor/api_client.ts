/**
 * A client for Cloud Hypervisor's REST API: HTTP/1.1 over the unix socket given to
 * `cloud-hypervisor --api-socket PATH`, one `PUT`/`GET` per action under `/api/v1/`. Requests go
 * through `fetch` with a Deno HTTP client whose transport is that unix socket.
 *
 * The endpoints and payloads follow Cloud Hypervisor's OpenAPI description,
 * `vmm/src/api/openapi/cloud-hypervisor.yaml` in github.com/cloud-hypervisor/cloud-hypervisor
 * (docs/api.md there explains it): `vmm.ping` and `vm.info` (GET), `vmm.shutdown`, `vm.create` (body: a
 * `VmConfig`), `vm.boot`, `vm.shutdown`, `vm.pause`, `vm.resume`, `vm.snapshot` (body:
 * `VmSnapshotConfig`), `vm.restore` (body: `RestoreConfig`), all `PUT`. Success is a 2xx status
 * (204 without a body, 200 with JSON); anything else carries Cloud Hypervisor's error text in the
 * body, which {@linkcode CloudHypervisorError} shows the user.
 *
 * @module
 */

import { VmError } from "../errors.ts";
import type { VmConfig } from "./vm_config.ts";

/** Longest error body shown to the user: Cloud Hypervisor's errors are a few lines. */
const MAX_ERROR_TEXT = 2000;

/**
 * A Cloud Hypervisor API request failed: the VMM answered with an error, or could not be reached.
 * The message names the action and carries Cloud Hypervisor's own error text.
 *
 * @example
 * ```ts
 * import { CloudHypervisorError } from "./api_client.ts";
 * const error = new CloudHypervisorError("vm.boot", "Cannot boot the VM", { status: 500 });
 * console.assert(error.status === 500 && error.action === "vm.boot");
 * ```
 */
export class CloudHypervisorError extends VmError {
  /** The API action, e.g. `vm.create`. */
  readonly action: string;
  /** The HTTP status, absent when the API socket could not be reached. */
  readonly status?: number;

  constructor(
    action: string,
    message: string,
    options?: ErrorOptions & { status?: number; consoleTail?: string },
  ) {
    super(message, options);
    this.name = "CloudHypervisorError";
    this.action = action;
    this.status = options?.status;
  }
}

/** `vmm.ping`'s answer. */
export interface VmmPingResponse {
  version: string;
  build_version?: string;
  pid?: number;
  features?: string[];
}

/** `vm.info`'s answer (the fields agentbox reads). */
export interface VmInfo {
  state: "Created" | "Running" | "Shutdown" | "Paused" | "BreakPoint";
  config?: unknown;
}

/** `vm.snapshot`'s body: where Cloud Hypervisor writes the snapshot (a `file://` directory). */
export interface VmSnapshotConfig {
  destination_url: string;
}

/** `vm.restore`'s body: the snapshot directory (`file://`) to load. */
export interface RestoreConfig {
  source_url: string;
  prefault?: boolean;
}

/**
 * A Cloud Hypervisor VMM's API, reached through its API socket.
 *
 * @example
 * ```ts
 * import { CloudHypervisorApi } from "./api_client.ts";
 * const api = new CloudHypervisorApi("/run/agentbox/vm-1/ch-api.sock");
 * console.log((await api.ping()).version);
 * await api.shutdownVmm();
 * api.close();
 * ```
 */
export class CloudHypervisorApi {
  readonly #client: Deno.HttpClient;
  /** The API socket's path. */
  readonly socket: string;

  constructor(socket: string) {
    this.socket = socket;
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  }

  /** `GET vmm.ping`: the VMM's version; proves the API server is up. */
  async ping(signal?: AbortSignal): Promise<VmmPingResponse> {
    const body = await this.#request("GET", "vmm.ping", undefined, signal);
    const reply = body === undefined ? undefined : JSON.parse(body);
    if (typeof reply?.version !== "string") {
      throw new CloudHypervisorError("vmm.ping", "Cloud Hypervisor's vmm.ping has no version");
    }
    return reply;
  }

  /** `GET vm.info`: the VM's state (HTTP 404 before `vm.create`). */
  async info(): Promise<VmInfo> {
    const body = await this.#request("GET", "vm.info");
    return JSON.parse(body ?? "{}");
  }

  /** `PUT vm.create`: define the VM (not started yet). */
  async createVm(config: VmConfig): Promise<void> {
    await this.#request("PUT", "vm.create", config);
  }

  /** `PUT vm.boot`: start the created VM. */
  async bootVm(): Promise<void> {
    await this.#request("PUT", "vm.boot");
  }

  /** `PUT vm.pause`. */
  async pauseVm(): Promise<void> {
    await this.#request("PUT", "vm.pause");
  }

  /** `PUT vm.resume`. */
  async resumeVm(): Promise<void> {
    await this.#request("PUT", "vm.resume");
  }

  /** `PUT vm.snapshot`: save a paused VM to `config.destination_url` (a `file://` directory). */
  async snapshotVm(config: VmSnapshotConfig): Promise<void> {
    await this.#request("PUT", "vm.snapshot", config);
  }

  /** `PUT vm.restore`: load a snapshot into this (VM-less) VMM; the VM comes back paused. */
  async restoreVm(config: RestoreConfig): Promise<void> {
    await this.#request("PUT", "vm.restore", config);
  }

  /** `PUT vm.shutdown`: stop the VM (the VMM keeps running). */
  async shutdownVm(): Promise<void> {
    await this.#request("PUT", "vm.shutdown");
  }

  /** `PUT vmm.shutdown`: end the Cloud Hypervisor process. */
  async shutdownVmm(): Promise<void> {
    await this.#request("PUT", "vmm.shutdown");
  }

  /** Release the HTTP client. */
  close(): void {
    this.#client.close();
  }

  async #request(
    method: "GET" | "PUT",
    action: string,
    payload?: unknown,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    let response: Response;
    try {
      response = await fetch(`http://localhost/api/v1/${action}`, {
        method,
        client: this.#client,
        signal,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch (cause) {
      throw new CloudHypervisorError(
        action,
        `Cannot reach Cloud Hypervisor's API at ${this.socket} (${action})`,
        { cause },
      );
    }
    const text = await response.text();
    if (response.ok) return text === "" ? undefined : text;
    const detail = text.trim().slice(0, MAX_ERROR_TEXT) || response.statusText;
    throw new CloudHypervisorError(
      action,
      `Cloud Hypervisor refused ${action} (HTTP ${response.status}): ${detail}`,
      { status: response.status },
    );
  }
}
