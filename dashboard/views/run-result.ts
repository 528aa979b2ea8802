// A settled run: its envelope (pretty, and its exact bytes with their sha256), the receipt's
// timings as a timeline, and its outputs (world scope: downloaded with the bearer token).
import type { ControlPlaneClient } from "../../src/client/control-plane.ts";
import type { Receipt, RunResource } from "../../src/contract/api.ts";
import type { Envelope } from "../../src/contract/envelope.ts";
import { sha256Hex } from "../../src/core/canonical.ts";
import { runOutputPaths } from "../../src/core/paths.ts";
import { fill, h } from "../dom.ts";
import { bytes, clock, duration } from "../format.ts";
import { problem } from "../problems.ts";

/** Draws the settled run into `container`; the run resource as it now stands. */
export async function showSettled(
  container: HTMLElement,
  client: ControlPlaneClient,
  runId: string,
): Promise<RunResource> {
  const [run, persisted, receipt] = await Promise.all([
    client.getRun(runId),
    client.getEnvelope(runId),
    client.getReceipt(runId),
  ]);
  const digest = await sha256Hex(persisted.text);
  fill(
    container,
    envelopeSection(persisted.text, persisted.envelope, digest),
    timelineSection(receipt),
    outputsSection(client, runId, persisted.envelope),
  );
  return run;
}

function envelopeSection(text: string, envelope: Envelope, digest: string): HTMLElement {
  const copied = h("span", { class: "status", role: "status" });
  const copy = h("button", { type: "button", id: "copy-envelope" }, "Copy exact bytes");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copied.textContent = "Copied.";
    } catch {
      copied.textContent = "The browser refused the clipboard: select the exact bytes below instead.";
    }
  });
  return h(
    "section",
    { "aria-labelledby": "envelope-heading" },
    h("h2", { id: "envelope-heading" }, "Envelope"),
    envelope.status === "error" ? problem(envelope.error, "The run ended with an error") : null,
    h(
      "p",
      { class: "digest" },
      "sha256 ",
      h("code", { id: "envelope-sha256" }, digest),
      ` · ${bytes(new TextEncoder().encode(text).byteLength)} `,
      copy,
      " ",
      copied,
    ),
    h("pre", { class: "envelope", id: "envelope-pretty", tabindex: 0 }, JSON.stringify(envelope, null, 2)),
    h(
      "details",
      {},
      h("summary", {}, "Exact bytes (canonical JSON, as persisted)"),
      h("pre", { class: "envelope raw", id: "envelope-bytes", tabindex: 0 }, text),
    ),
  );
}

/** queued → started → acknowledged → settled, to scale, with the times beside it. */
function timelineSection(receipt: Receipt): HTMLElement {
  const { timings } = receipt;
  const start = Date.parse(timings.queued_at);
  const end = Date.parse(timings.settled_at);
  const span = Math.max(1, end - start);
  const marks = [
    { name: "queued", from: timings.queued_at, to: timings.started_at ?? timings.settled_at },
    ...(timings.started_at
      ? [{ name: "connecting", from: timings.started_at, to: timings.acked_at ?? timings.settled_at }]
      : []),
    ...(timings.acked_at ? [{ name: "running", from: timings.acked_at, to: timings.settled_at }] : []),
  ];
  const svg = svgElement("svg", {
    class: "timeline",
    viewBox: "0 0 100 6",
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": marks.map((m) => `${m.name} ${duration(Date.parse(m.to) - Date.parse(m.from))}`).join(", "),
  });
  for (const mark of marks) {
    const x = ((Date.parse(mark.from) - start) / span) * 100;
    const width = Math.max(0.5, ((Date.parse(mark.to) - Date.parse(mark.from)) / span) * 100);
    svg.appendChild(svgElement("rect", { class: `segment ${mark.name}`, x, y: 0, width, height: 6 }));
  }
  const time = (term: string, iso: string | undefined) =>
    iso ? [h("dt", {}, term), h("dd", {}, h("time", { datetime: iso }, clock(iso)))] : [];
  return h(
    "section",
    { "aria-labelledby": "timeline-heading" },
    h("h2", { id: "timeline-heading" }, "Timeline"),
    svg,
    h(
      "ul",
      { class: "legend" },
      ...marks.map((m) =>
        h(
          "li",
          {},
          h("span", { class: `swatch ${m.name}` }),
          `${m.name} ${duration(Date.parse(m.to) - Date.parse(m.from))}`,
        ),
      ),
    ),
    h(
      "dl",
      { class: "summary" },
      ...time("Queued", timings.queued_at),
      ...time("Started", timings.started_at),
      ...time("Acknowledged", timings.acked_at),
      ...time("Settled", timings.settled_at),
      h("dt", {}, "Duration"),
      h("dd", { id: "run-duration" }, duration(timings.duration_ms)),
      h("dt", {}, "Ran on"),
      h("dd", {}, receipt.agent ? `${receipt.target} · ${receipt.agent}` : receipt.target),
      h("dt", {}, "Attempts"),
      h("dd", {}, receipt.attempts.map((a) => `${a.outcome}${a.acked ? " (acknowledged)" : ""}`).join(", ")),
      h("dt", {}, "Frames"),
      h(
        "dd",
        {},
        `${receipt.frames.total} (${receipt.frames.tokens} tokens, ${bytes(receipt.frames.bytes_in)})`,
      ),
    ),
  );
}

function outputsSection(client: ControlPlaneClient, runId: string, envelope: Envelope): HTMLElement {
  const section = h(
    "section",
    { "aria-labelledby": "outputs-heading" },
    h("h2", { id: "outputs-heading" }, "Outputs"),
  );
  if (envelope.status === "error") {
    section.append(h("p", {}, "None: the run ended with an error."));
    return section;
  }
  if (!envelope.index_path.startsWith("world://")) {
    // Local scope: the files never left the machine that ran the run.
    section.append(
      h("p", {}, "Local scope: these files are on the machine that ran the run."),
      h(
        "ul",
        { class: "outputs" },
        ...[envelope.index_path, ...envelope.outputs.map((o) => o.path)].map((uri) =>
          h("li", {}, h("code", {}, uri)),
        ),
      ),
    );
    return section;
  }
  const problems = h("div", { class: "problems" });
  const proof = envelope.meta.proof.etag_map;
  section.append(
    problems,
    h(
      "ul",
      { class: "outputs" },
      ...runOutputPaths(envelope).map((path) => {
        const button = h("button", { type: "button", class: "link", "data-path": path }, path);
        button.addEventListener("click", () =>
          download(client, runId, path).then(
            () => fill(problems),
            (error) => fill(problems, problem(error, `Downloading ${path} failed`)),
          ),
        );
        return h("li", {}, button, proof[path] ? h("span", { class: "etag" }, ` md5 ${proof[path]}`) : null);
      }),
    ),
  );
  return section;
}

/** GET /v1/runs/{id}/outputs/{path} with the bearer token, saved under the path's file name. */
async function download(client: ControlPlaneClient, runId: string, path: string): Promise<void> {
  const output = await client.getOutput(runId, path);
  const blob = new Blob([await new Response(output.body).arrayBuffer()], {
    type: output.contentType ?? "application/octet-stream",
  });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: path.split("/").pop() ?? path, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the bytes once the click is handled; the URL is no longer needed soon after.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function svgElement(tag: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element as SVGElement;
}
