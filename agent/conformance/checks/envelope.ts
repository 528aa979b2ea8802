// The envelope a processor answers with (docs/contract.md#the-envelope), and the bytes it proves.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type OutputIndex, OutputIndexSchema } from "../../../src/contract/envelope.ts";
import { ARTIFACTS_ROOT, OUTPUT_INDEX } from "../../../src/contract/primitives.ts";
import { worldRunPrefix } from "../../../src/core/paths.ts";
import {
  canonicalProblem,
  envelopeTextOf,
  identityProblem,
  localPrefixOf,
  parseEnvelope,
  ruleProblem,
  successProblems,
} from "../envelope.ts";
import { sampleInputs } from "../fixtures.ts";
import { type Check, fail, type KitSession, pass, runResultOf, skip } from "../session.ts";
import { md5Hex, startWorldStore } from "../world-store.ts";

/** One run over the WebSocket and one over HTTP /run: the envelope texts each answered with. */
async function bothTransports(session: KitSession, label: string) {
  const wsRunId = session.runId(`${label}-ws`);
  const httpRunId = session.runId(`${label}-http`);
  const wsPayload = session.payload(wsRunId);
  const httpPayload = session.payload(httpRunId);
  const talk = await session.runWs(wsPayload);
  const answer = await session.post("/run", httpPayload);
  return [
    {
      via: "WebSocket RunResult",
      runId: wsRunId,
      payload: wsPayload,
      text: runResultOf(talk)?.text,
      frame: true,
    },
    { via: "HTTP /run", runId: httpRunId, payload: httpPayload, text: answer.text, frame: false },
  ];
}

/** An index file's problems against the envelope's etag_map and the bytes stored beside it. */
function indexProblem(
  text: string | undefined,
  runId: string,
  expected: OutputIndex["outputs"],
): string | undefined {
  if (text === undefined) return `${OUTPUT_INDEX} was not written`;
  const canonical = canonicalProblem(text);
  if (canonical) return `${OUTPUT_INDEX} is ${canonical}`;
  const index = OutputIndexSchema.safeParse(JSON.parse(text));
  if (!index.success) return `${OUTPUT_INDEX} is not {"outputs":[{"etag","path","size"}],"run_id"}`;
  const wanted = JSON.stringify({ outputs: expected, run_id: runId });
  const got = JSON.stringify({ outputs: index.data.outputs, run_id: index.data.run_id });
  return got === wanted ? undefined : `${OUTPUT_INDEX} says ${got}, the outputs are ${wanted}`;
}

export const ENVELOPE_CHECKS: readonly Check[] = [
  {
    name: "envelope.schema",
    rule: "the envelope parses against the strict schema (src/contract/envelope.ts) on both transports",
    async run(session) {
      for (const answer of await bothTransports(session, "schema")) {
        if (answer.text === undefined) return fail(`no ${answer.via}`);
        const content = answer.frame ? envelopeTextOf(answer.text) : answer.text;
        const parsed = parseEnvelope(content);
        if (!parsed.ok) return fail(`${answer.via}: ${parsed.problem}`, { observed: content.slice(0, 300) });
      }
      return pass("schema-valid over WebSocket and HTTP");
    },
  },
  {
    name: "envelope.canonical",
    rule: "the envelope's bytes are canonical JSON (RFC 8785), as HTTP /run's body and as the RunResult frame",
    async run(session) {
      for (const answer of await bothTransports(session, "canonical")) {
        if (answer.text === undefined) return fail(`no ${answer.via}`);
        const problem = canonicalProblem(answer.text);
        if (problem) return fail(`${answer.via} is ${problem}`, { observed: answer.text.slice(0, 300) });
      }
      return pass("canonical over WebSocket and HTTP");
    },
  },
  {
    name: "envelope.rules",
    rule: "outputs are the tool's, under the run prefix, sorted and unique; index_path and etag_map match (checkEnvelope)",
    async run(session) {
      for (const answer of await bothTransports(session, "rules")) {
        const parsed = parseEnvelope(
          answer.frame && answer.text ? envelopeTextOf(answer.text) : (answer.text ?? ""),
        );
        if (!parsed.ok) return fail(`${answer.via}: ${parsed.problem}`);
        const runPrefix = localPrefixOf(answer.payload.write_prefix as string);
        const problem =
          parsed.envelope.status === "error"
            ? `status error (${parsed.envelope.error.code}: ${parsed.envelope.error.message})`
            : ruleProblem(session, parsed.envelope, { runId: answer.runId, runPrefix });
        if (problem)
          return fail(`${answer.via}: ${problem}`, {
            observed: parsed.envelope.status === "success" ? parsed.envelope.outputs : parsed.envelope.error,
            expected: { prefix: runPrefix, outputs: session.target.tool.outputs },
          });
      }
      return pass("every rule of checkEnvelope holds on both transports");
    },
  },
  {
    name: "envelope.identity",
    rule: "image_digest and env_fingerprint are the processor's (given, else the first seen) on every envelope, errors included",
    async run(session) {
      const invalid = await session.post(
        "/run",
        session.payload(session.runId("identity-error"), {
          inputs: sampleInputs(session.target.tool).invalid,
        }),
      );
      const answers = [
        ...(await bothTransports(session, "identity")),
        { via: "HTTP /run error envelope", text: invalid.text, frame: false },
      ];
      for (const answer of answers) {
        const parsed = parseEnvelope(
          answer.frame && answer.text ? envelopeTextOf(answer.text) : (answer.text ?? ""),
        );
        if (!parsed.ok) return fail(`${answer.via}: ${parsed.problem}`);
        if (parsed.envelope.meta.image_digest === undefined)
          return fail(`${answer.via} names no image_digest (a processor that answered names its digest)`);
        const problem = identityProblem(session, parsed.envelope);
        if (problem)
          return fail(`${answer.via}: ${problem}`, {
            observed: parsed.envelope.meta,
            expected: {
              image_digest: session.identity.imageDigest,
              env_fingerprint: session.identity.envFingerprint,
            },
          });
      }
      return pass(`${session.identity.imageDigest} with ${session.identity.envFingerprint}`);
    },
  },
  {
    name: "envelope.local-etags",
    rule: "local scope: the files under write_prefix are the bytes etag_map proves (MD5), with a matching outputs.json",
    async run(session) {
      const artifacts = session.target.artifactsDir;
      if (!artifacts) return skip("the kit cannot see the artifacts folder (--artifacts DIR, or --ref)");
      const runId = session.runId("local");
      const payload = session.payload(runId);
      const writePrefix = payload.write_prefix as string;
      const talk = await session.runWs(payload);
      const text = runResultOf(talk)?.text;
      if (!text) return fail("no RunResult");
      const envelopeText = envelopeTextOf(text);
      const parsed = parseEnvelope(envelopeText);
      if (!parsed.ok || parsed.envelope.status !== "success")
        return fail("no success envelope", { observed: envelopeText.slice(0, 300) });
      const dir = join(artifacts, writePrefix.slice(ARTIFACTS_ROOT.length));
      const read = (path: string) => readFile(join(dir, path)).catch(() => undefined);
      const written: OutputIndex["outputs"] = [];
      for (const [path, etag] of Object.entries(parsed.envelope.meta.proof.etag_map).sort(([a], [b]) =>
        a < b ? -1 : 1,
      )) {
        const bytes = await read(path);
        if (!bytes) return fail(`${path} is not in ${dir}`, { expected: etag });
        if (md5Hex(bytes) !== etag)
          return fail(`${path}: etag_map says ${etag}, the file's MD5 is ${md5Hex(bytes)}`, {
            observed: md5Hex(bytes),
            expected: etag,
          });
        written.push({ path, size: bytes.byteLength, etag });
      }
      const problem = indexProblem((await read(OUTPUT_INDEX))?.toString("utf8"), runId, written);
      if (problem) return fail(problem);
      return pass(`${written.length} file(s) and ${OUTPUT_INDEX} in ${dir} match etag_map`);
    },
  },
  {
    name: "envelope.world-etags",
    rule: "world scope: each output and outputs.json is PUT to its presigned URL; etag_map holds the store's ETags; world:// URIs",
    async run(session) {
      const store = await startWorldStore();
      try {
        const worldId = "conformance";
        const runId = session.runId("world");
        const paths = [...session.target.tool.outputs, OUTPUT_INDEX];
        const outputs = Object.fromEntries(
          paths.map((path) => [path, store.urlFor(`${worldId}/${runId}/${path}`)]),
        );
        const talk = await session.runWs(session.payload(runId, { outputs, world_id: worldId }));
        const text = runResultOf(talk)?.text;
        if (!text) return fail("no RunResult");
        const envelopeText = envelopeTextOf(text);
        const { envelope, problems } = successProblems(session, envelopeText, {
          runId,
          runPrefix: worldRunPrefix(worldId, runId),
        });
        if (envelope?.status !== "success" || problems.length > 0)
          return fail(problems.join("; ") || "no success envelope", { observed: envelopeText.slice(0, 300) });
        const written: OutputIndex["outputs"] = [];
        for (const path of session.target.tool.outputs) {
          const bytes = store.stored(`${worldId}/${runId}/${path}`);
          const etag = envelope.meta.proof.etag_map[path];
          if (!bytes) return fail(`${path} was not PUT to its URL`);
          if (etag !== md5Hex(bytes))
            return fail(`${path}: etag_map says ${etag}, the store's ETag is ${md5Hex(bytes)}`, {
              observed: etag,
              expected: md5Hex(bytes),
            });
          written.push({ path, size: bytes.byteLength, etag });
        }
        written.sort((a, b) => (a.path < b.path ? -1 : 1));
        const problem = indexProblem(
          store.stored(`${worldId}/${runId}/${OUTPUT_INDEX}`)?.toString("utf8"),
          runId,
          written,
        );
        if (problem) return fail(problem);
        return pass(`${written.length} output(s) and ${OUTPUT_INDEX} PUT; etag_map holds the store's ETags`);
      } finally {
        await store.close();
      }
    },
  },
];
