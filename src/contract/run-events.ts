/**
 * The run events stream (`GET /v1/runs/{id}/events`, docs/protocols.md#the-run-events-stream): each
 * event is a processor frame (named by its kind, numbered for Last-Event-ID), and these two name
 * events the control plane adds itself.
 */

/** The terminal event: its data is the run's canonical envelope. */
export const DONE_EVENT = "done";

/** After the last stored frame of a replay, when the run outgrew what it may store. */
export const TRUNCATED_EVENT = "truncated";
