import type { EndpointRegistration } from "../../src/contract/api.ts";
import { ERROR_CODES, type ErrorCode } from "../../src/contract/errors.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { CliConfig } from "../cli/config.ts";

/** `/v1/endpoints/{ref}` on the configured control plane: where modalctl registers a ref's Modal URL. */
export class EndpointsClient {
  readonly #base: string;
  readonly #token: string;

  constructor(config: Pick<CliConfig, "controlPlane" | "token">) {
    if (!config.controlPlane)
      throw new TheoryError(
        "ERR_INPUTS",
        "no control plane: set THEORY_CONTROL_PLANE or --control-plane URL",
      );
    if (!config.token) throw new TheoryError("ERR_AUTH", "no token for the control plane: set THEORY_TOKEN");
    this.#base = config.controlPlane.replace(/\/+$/, "");
    this.#token = config.token;
  }

  put(ref: string, registration: EndpointRegistration): Promise<EndpointRegistration & { ref: string }> {
    return this.#call("PUT", ref, registration) as Promise<EndpointRegistration & { ref: string }>;
  }

  /** The registration, or null when none exists. */
  async get(ref: string): Promise<(EndpointRegistration & { ref: string }) | null> {
    return (await this.#call("GET", ref, undefined, true)) as (EndpointRegistration & { ref: string }) | null;
  }

  /** True when a registration was removed, false when there was none. */
  async delete(ref: string): Promise<boolean> {
    return (await this.#call("DELETE", ref, undefined, true)) !== null;
  }

  async #call(method: string, ref: string, body: unknown, missingIsNull = false): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/v1/endpoints/${ref}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      throw new TheoryError("ERR_INTERNAL", `the control plane at ${this.#base} is not reachable`);
    }
    const text = await response.text();
    if (response.ok) return text ? JSON.parse(text) : {};
    if (response.status === 404 && missingIsNull) return null;
    let code: ErrorCode = response.status === 401 || response.status === 403 ? "ERR_AUTH" : "ERR_INTERNAL";
    let message = `the control plane answered HTTP ${response.status}`;
    try {
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (error?.code && (ERROR_CODES as readonly string[]).includes(error.code))
        code = error.code as ErrorCode;
      if (error?.message) message = `control plane: ${error.message}`;
    } catch {
      // Not an error envelope: keep the status line.
    }
    throw new TheoryError(code, message);
  }
}
