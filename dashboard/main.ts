// The dashboard (README, "The dashboard"): one page, routed by its URL's fragment (#/runs,
// #/runs/{id}, #/agents, #/endpoints), drawn from the control plane's API with the signed-in token.
import "./jitless.ts";
import { TheoryError } from "../src/core/errors.ts";
import { fill, h } from "./dom.ts";
import { problem } from "./problems.ts";
import { resumeSession, type Session, signOut } from "./session.ts";
import type { View } from "./view.ts";
import { agentsView } from "./views/agents.ts";
import { endpointsView } from "./views/endpoints.ts";
import { runView } from "./views/run.ts";
import { runsView } from "./views/runs.ts";
import { signInView } from "./views/sign-in.ts";

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = byId<HTMLElement>("main");
const nav = byId<HTMLElement>("nav");
const who = byId<HTMLElement>("who");

let session: Session | null = null;
/** Aborts the page on show: its refreshes, streams and calls stop when another is drawn. */
let page = new AbortController();

function route(hash: string): { name: string; path: string[]; query: URLSearchParams } {
  const [path = "", search = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  const [name = "runs", ...rest] = path.split("/").filter(Boolean).map(decodeSegment);
  return { name, path: rest, query: new URLSearchParams(search) };
}

/** A segment as typed; one that is not valid percent-encoding names nothing, so it is kept as it is. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function viewFor(name: string, path: string[], current: Session): View {
  if (name === "runs") return path.length ? runView : runsView;
  if (name === "agents") return agentsView;
  if (name === "endpoints") {
    if (current.can("endpoints:write")) return endpointsView;
    return ({ main }) =>
      fill(
        main,
        problem(new TheoryError("ERR_AUTH", "the token lacks the endpoints:write scope", { status: 403 })),
      );
  }
  return ({ main }) => fill(main, problem(new TheoryError("ERR_NOT_FOUND", `no page ${name} here`)));
}

function draw(failure?: unknown): void {
  page.abort();
  page = new AbortController();
  if (!session) {
    nav.hidden = true;
    who.hidden = true;
    signInView(
      main,
      (signedIn) => {
        session = signedIn;
        draw();
      },
      failure,
    );
    return;
  }
  const { name, path, query } = route(location.hash);
  nav.hidden = false;
  for (const link of nav.querySelectorAll<HTMLAnchorElement>("a")) {
    const scope = link.dataset.scope;
    link.hidden = scope !== undefined && !session.can(scope as never);
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  who.hidden = false;
  fill(
    byId("who-name"),
    "Signed in as ",
    h("strong", {}, session.whoami.name),
    ` (${session.whoami.scopes.join(", ")})`,
  );
  viewFor(name, path, session)({ main, session, signal: page.signal, path, query });
}

window.addEventListener("hashchange", () => {
  // The skip link's own fragment moves the focus, not the page.
  if (!location.hash.startsWith("#/")) return;
  draw();
  main.focus();
});

document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

byId("sign-out").addEventListener("click", () => {
  signOut();
  session = null;
  draw();
});

resumeSession().then(
  (resumed) => {
    session = resumed;
    draw();
  },
  (error) => draw(error),
);
