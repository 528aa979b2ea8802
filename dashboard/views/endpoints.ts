// #/endpoints (a token with endpoints:write): GET /v1/endpoints, where each ref runs for target modal.
import { fill, h, row, table, withCode } from "../dom.ts";
import { shortDigest } from "../format.ts";
import { every } from "../live.ts";
import { problem } from "../problems.ts";
import type { ViewContext } from "../view.ts";

const COLUMNS = ["Ref", "URL", "Image digest"];
const REFRESH_MS = 10_000;

export function endpointsView({ main, session, signal }: ViewContext): void {
  const problems = h("div", { class: "problems" });
  const body = h("tbody");
  fill(
    main,
    h("h1", {}, "Endpoints"),
    h(
      "p",
      { class: "hint" },
      ...withCode(
        "Where each ref's processor is reachable for target modal (`theory modalctl start` registers one).",
      ),
    ),
    problems,
    h("div", { class: "scroll" }, table("Registered endpoints", COLUMNS, body)),
  );
  const client = session.client(signal);
  void every(
    REFRESH_MS,
    signal,
    async () => {
      const endpoints = await client.listEndpoints();
      if (endpoints.length === 0)
        fill(body, h("tr", {}, h("td", { colspan: COLUMNS.length }, "No endpoint is registered.")));
      else
        fill(
          body,
          ...endpoints.map((endpoint) =>
            row(
              COLUMNS,
              [
                endpoint.ref,
                h("code", {}, endpoint.url),
                h("code", { title: endpoint.image_digest }, shortDigest(endpoint.image_digest)),
              ],
              { "data-ref": endpoint.ref },
            ),
          ),
        );
      fill(problems);
    },
    (error) => fill(problems, problem(error)),
  );
}
