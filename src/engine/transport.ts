import type { TheoryError } from "../core/errors.ts";

/** What a transport reports while a session is open, in order. */
export interface TransportHandlers {
  /** One text frame from the processor, exactly as received. */
  onMessage(text: string): void;
  /** The session closed (by either side), with the close code the processor's connection ended with. */
  onClose(code: number, reason: string): void;
  /** The transport itself failed mid-session (socket error, agent lost): settles with this error. */
  onError(error: TheoryError): void;
}

export interface TransportSession {
  send(text: string): void;
  close(code: number, reason: string): void;
  /**
   * The image the session's processor is expected to run, when the transport knows it (the
   * endpoint's registered digest, the agent's Hello): kept in the envelopes the control plane
   * writes itself for a run that ended without the processor's own (timeout, cancel, lost session).
   */
  imageDigest?: string;
}

export interface OpenOptions {
  /**
   * Aborts when the pre-Ack budget is spent or the run ends: `open` then settles promptly. A
   * handshake in flight is given up (ERR_ENDPOINT_MISSING); a health poll ends where it stands, so
   * its error still says what it saw.
   */
  signal?: AbortSignal;
}

/**
 * The adapter seam (docs/architecture.md#seams): endpoint resolution, health, one WebSocket session, error mapping.
 * No retries and no policy: those belong to the orchestrator. `open` rejects with a TheoryError
 * (ERR_ENDPOINT_MISSING, ERR_HEALTH, …) when no session could be established.
 */
export interface RunTransport {
  open(
    target: { ref: string; runId: string },
    handlers: TransportHandlers,
    options?: OpenOptions,
  ): Promise<TransportSession>;
}
