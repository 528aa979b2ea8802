import type { TheoryError } from "../core/errors.ts";

/** What a transport reports while a session is open, in order. */
export interface TransportHandlers {
  /** One text frame from the processor, exactly as received. */
  onMessage(text: string): void;
  /** The session closed (by either side). */
  onClose(code: number, reason: string): void;
  /** The transport itself failed mid-session (socket error, agent lost): settles with this error. */
  onError(error: TheoryError): void;
}

export interface TransportSession {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/**
 * The adapter seam (docs/architecture.md#seams): endpoint resolution, health, one WebSocket session, error mapping.
 * No retries and no policy: those belong to the orchestrator. `open` rejects with a TheoryError
 * (ERR_ENDPOINT_MISSING, ERR_HEALTH, …) when no session could be established.
 */
export interface RunTransport {
  open(target: { ref: string; runId: string }, handlers: TransportHandlers): Promise<TransportSession>;
}
