import type { Session } from "./session.ts";

/** What a page gets: where to draw, who is signed in, and a signal that aborts when the page is left. */
export interface ViewContext {
  main: HTMLElement;
  session: Session;
  signal: AbortSignal;
  /** The route's segments after its name: `#/runs/r1` -> ["r1"]. */
  path: string[];
  query: URLSearchParams;
}

export type View = (context: ViewContext) => void;
