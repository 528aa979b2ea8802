// The typed control-plane client, as the package exports it (`theory/client`, docs/api.md#the-typed-client).
export type * from "../contract/api.ts";
export type { ApiError, Envelope } from "../contract/envelope.ts";
export * as routes from "../contract/routes.ts";
export { TheoryError } from "../core/errors.ts";
export type { SseEvent } from "../core/sse-reader.ts";
export {
  ControlPlaneClient,
  type ControlPlaneClientOptions,
  type OutputDownload,
  type PersistedEnvelope,
  REQUEST_TIMEOUT_MS,
  STREAM_RECONNECT,
} from "./control-plane.ts";
export type { RouteInput, RouteOutput } from "./typed-routes.ts";
