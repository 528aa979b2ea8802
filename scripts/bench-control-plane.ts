// npm run bench:control-plane — the run path side by side, in one run: a processor from source,
// Theory's control plane and the platform's floor (scripts/bench/floor: Worker -> Durable Object ->
// one WebSocket run, no storage), each under `wrangler dev`, measured interleaved. Prints JSON lines
// (one per figure) on stdout, then a summary with every figure's ratio to the floor and to direct.
//
//   npm run bench:control-plane [-- --quick]
//   ports: BENCH_PORT_BASE (default 18710): processor +1, control plane +2, floor +3, inspectors +4/+5
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordContainer } from "../agent/localctl/state.ts";
import { RUN_SUBPROTOCOL } from "../src/contract/frames.ts";
import { defaultWritePrefix } from "../src/core/paths.ts";
import { processorAuthHeaders } from "../src/core/processor-auth.ts";
import { readSse } from "../src/core/sse-reader.ts";
import { llmInputs } from "./lib/inputs.ts";
import {
  type LocalProcess,
  makeGrant,
  registrationFor,
  startControlPlane,
  startProcessorProcess,
} from "./lib/local-stack.ts";
import { type Figures, measure, print, wsRun } from "./lib/measure.ts";

const quick = process.argv.includes("--quick");
const BASE = Number(process.env.BENCH_PORT_BASE ?? 18710);
const REF = "llm/litellm@1";
const DIGEST = `sha256:${"0".repeat(64)}`;
const AGENT = "bench-box";
// The machine's speed drifts within a run, so each figure is measured in short rounds, the sides in
// a rotating order, and a ratio is the median of the rounds' ratios.
const LATENCY_ROUNDS = quick ? 2 : 10;
const LATENCY_PER_ROUND = 10;
const THROUGHPUT_ROUNDS = quick ? 1 : 3;
/** Runs per side and round, at each concurrency. */
const THROUGHPUT_RUNS: Record<number, number> = quick ? { 16: 64, 64: 128 } : { 16: 112, 64: 224 };
const STREAM_TOKENS = 10_000;
/** 10k-token streams per side: the median round's tokens/s (and the best), the median time to first token. */
const STREAM_ROUNDS = quick ? 3 : 7;
const AGENT_TOKENS = quick ? 20_000 : 100_000;
const LONG_RUN_TIMEOUT_S = 300;
/** The floor's own 100k-token run takes about 13 s here; one that stalls is reported, not waited on. */
const FLOOR_LONG_RUN_TIMEOUT_S = 60;

const root = join(import.meta.dirname, "..");
const dir = await mkdtemp(join(tmpdir(), "theory-bench-"));
const home = join(dir, "home");
const admin = makeGrant("bench");
const agentGrant = makeGrant("bench-agent", ["agents:connect"], AGENT);
const headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
const processor = await startProcessorProcess({
  toolRef: REF,
  port: BASE + 1,
  env: { IMAGE_DIGEST: DIGEST, ENV_FINGERPRINT: "cpu:1;memory:2Gi", ARTIFACTS_ROOT: join(dir, "artifacts") },
});
const [theory, floor] = await Promise.all([
  startControlPlane({
    port: BASE + 2,
    inspectorPort: BASE + 4,
    vars: { AUTH_TOKENS: JSON.stringify([admin.grant, agentGrant.grant]), LOG_LEVEL: "warn" },
  }),
  startControlPlane({
    port: BASE + 3,
    inspectorPort: BASE + 5,
    config: join(root, "scripts", "bench", "floor", "wrangler.toml"),
    vars: { PROCESSOR_URL: processor.url, PROCESSOR_TOKEN: processor.token },
  }),
]);
let agent: ChildProcess | undefined;

let counter = 0;
const runId = (label: string) => `${label}-${Date.now().toString(36)}-${counter++}`;
const payload = (id: string, maxTokens: number) =>
  JSON.stringify({
    run_id: id,
    mode: "mock",
    inputs: llmInputs("bench", { max_tokens: maxTokens }),
    write_prefix: defaultWritePrefix(REF, id),
    settle: "fast",
  });
const runRequest = (id: string, maxTokens: number, target: "modal" | "local") => ({
  ref: REF,
  run_id: id,
  mode: "mock",
  inputs: llmInputs("bench", { max_tokens: maxTokens }),
  target,
  ...(target === "local" ? { agent: AGENT } : {}),
  artifact_scope: "local",
});

async function theoryRun(): Promise<void> {
  const response = await fetch(`${theory.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=30" },
    body: JSON.stringify(runRequest(runId("cp"), 5, "modal")),
  });
  const resource = (await response.json()) as { state?: string };
  if (response.status !== 200 || resource.state !== "succeeded")
    throw new Error(`theory run did not succeed: ${response.status} ${JSON.stringify(resource)}`);
}

async function floorRun(): Promise<void> {
  const response = await fetch(`${floor.url}/run`, { method: "POST", body: payload(runId("floor"), 5) });
  const text = await response.text();
  if (!text.includes('"status":"success"'))
    throw new Error(`floor run did not succeed: ${text.slice(0, 200)}`);
}

const directRun = () =>
  wsRun(`${processor.url.replace("http", "ws")}/run`, processor.token, payload(runId("direct"), 5));

interface Stream {
  tokens: number;
  ordered: boolean;
  first_token_ms: number;
  total_ms: number;
  tokens_per_s: number;
}

/** Counts Token frames in order (the mock's tokens cycle through its canned words). */
function tokenCounter() {
  let tokens = 0;
  let ordered = true;
  let firstAt = 0;
  return {
    onToken(text: string, expected: (i: number) => string) {
      if (tokens === 0) firstAt = performance.now();
      if (text !== expected(tokens)) ordered = false;
      tokens++;
    },
    result(started: number): Stream {
      const total = performance.now() - started;
      return {
        tokens,
        ordered,
        first_token_ms: Math.round(firstAt - started),
        total_ms: Math.round(total),
        tokens_per_s: Math.round(tokens / (total / 1000)),
      };
    },
  };
}

const words =
  "This is a deterministic mock reply from llm/litellm@1 : the same inputs always stream the same tokens .".split(
    " ",
  );
const expectedToken = (count: number) => (i: number) =>
  `${words[i % words.length]}${i === count - 1 ? "\n" : " "}`;
const tokenText = (frameText: string) =>
  (JSON.parse(frameText) as { content: { text: string } }).content.text;

async function directStream(count: number): Promise<Stream> {
  const counter = tokenCounter();
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    import("ws").then(({ default: WebSocket }) => {
      const socket = new WebSocket(`${processor.url.replace("http", "ws")}/run`, [RUN_SUBPROTOCOL], {
        headers: processorAuthHeaders(processor.token),
      });
      socket.on("open", () =>
        socket.send(
          `{"kind":"RunOpen","content":{"role":"client","payload":${payload(runId("ds"), count)}}}`,
        ),
      );
      socket.on("message", (data) => {
        const text = data.toString();
        if (text.endsWith('"kind":"Token"}')) counter.onToken(tokenText(text), expectedToken(count));
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    }, reject);
  });
  return counter.result(started);
}

/** The floor's stream; it buffers without bound, so a long one may stall: given up after `timeoutS`. */
async function floorStream(
  count: number,
  timeoutS = LONG_RUN_TIMEOUT_S,
): Promise<Stream & { timed_out?: true }> {
  const counter = tokenCounter();
  const started = performance.now();
  try {
    const response = await fetch(`${floor.url}/run-stream`, {
      method: "POST",
      body: payload(runId("fs"), count),
      signal: AbortSignal.timeout(timeoutS * 1000),
    });
    for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) {
      if (event.data.endsWith('"kind":"Token"}'))
        counter.onToken(tokenText(event.data), expectedToken(count));
    }
  } catch (error) {
    if ((error as Error).name !== "TimeoutError") throw error;
    return { ...counter.result(started), timed_out: true };
  }
  return counter.result(started);
}

/**
 * POST the run asking for its events (Accept: text/event-stream) and follow them to `done`; a
 * dropped stream resumes on GET /events after the last id.
 */
async function theoryStream(
  count: number,
  target: "modal" | "local",
): Promise<Stream & { state: string; reconnects: number }> {
  const counter = tokenCounter();
  const id = runId(`ts-${target}`);
  const started = performance.now();
  const created = await fetch(`${theory.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Accept: "text/event-stream" },
    body: JSON.stringify({ ...runRequest(id, count, target), timeout_s: LONG_RUN_TIMEOUT_S }),
  });
  if (created.status !== 200) throw new Error(`run not accepted: ${created.status} ${await created.text()}`);
  let state = "unknown";
  let lastId = "0";
  let reconnects = 0;
  // A subscriber that falls too far behind is dropped and resumes after the last id, as clients do.
  while (state === "unknown" && reconnects <= 10) {
    const response =
      reconnects === 0
        ? created
        : await fetch(`${theory.url}/v1/runs/${id}/events`, {
            headers: { ...headers, "Last-Event-ID": lastId },
          });
    for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) {
      if (event.id !== undefined) lastId = event.id;
      if (event.event === "Token") counter.onToken(tokenText(event.data), expectedToken(count));
      if (event.event === "done") {
        const envelope = JSON.parse(event.data) as { status: string; error?: { code: string } };
        state = envelope.status === "success" ? "succeeded" : `failed:${envelope.error?.code}`;
      }
    }
    if (state === "unknown") reconnects++;
  }
  return { ...counter.result(started), state, reconnects };
}

/** The resident memory of wrangler dev's workerd processes (the control plane), in MiB. */
async function workerdRssMiB(parent: number): Promise<number> {
  const children = async (pid: number): Promise<number[]> => {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
    const direct = text.split(/\s+/).filter(Boolean).map(Number);
    return [...direct, ...(await Promise.all(direct.map(children))).flat()];
  };
  let kib = 0;
  for (const pid of await children(parent)) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    if (!/^Name:\s+workerd/m.test(status)) continue;
    kib += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return Math.round(kib / 1024);
}

/**
 * Runs `work` while sampling a control plane's RSS every 100 ms (peak; the caller reads `after`)
 * and asking it GET /healthz meanwhile: how promptly it answers another request under the load.
 */
async function observed<T>(stack: LocalProcess, work: () => Promise<T>) {
  const pid = stack.child.pid as number;
  const before = await workerdRssMiB(pid);
  let peak = before;
  // Meanwhile, how promptly the control plane answers another request (GET /healthz).
  const answers: number[] = [];
  let unanswered = 0;
  const probe = async () => {
    const started = performance.now();
    try {
      await (await fetch(`${stack.url}/healthz`, { signal: AbortSignal.timeout(30_000) })).text();
      answers.push(performance.now() - started);
    } catch {
      unanswered++;
    }
  };
  const sampler = setInterval(() => {
    void workerdRssMiB(pid).then((mib) => (peak = Math.max(peak, mib)));
    void probe();
  }, 100);
  try {
    const result = await work();
    const healthz_ms = {
      answered: answers.length,
      unanswered,
      p50: Math.round(median([...answers])),
      max: Math.round(Math.max(0, ...answers)),
    };
    return { result, rss_mib: { before, peak, after: 0 }, healthz_ms };
  } finally {
    clearInterval(sampler);
  }
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
/** `count` rounds of `runs` runs per side, the sides' order rotating from round to round. */
async function rounds<Side extends string>(
  count: number,
  sides: Record<Side, () => Promise<void>>,
  concurrency: number,
  runs: number,
): Promise<Record<Side, Figures[]>> {
  const names = Object.keys(sides) as Side[];
  const figures = Object.fromEntries(names.map((name) => [name, [] as Figures[]])) as Record<Side, Figures[]>;
  for (let round = 0; round < count; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length] as Side;
      figures[name].push(await measure(concurrency, runs, sides[name]));
    }
  }
  return figures;
}

/** The median over rounds of one side's figure divided by the other's in the same round. */
const medianRatio = (side: Figures[], base: Figures[], figure: (f: Figures) => number) =>
  ratio(median(side.map((f, i) => figure(f) / figure(base[i] as Figures))), 1);

const merge = (parts: Figures[]): Figures => {
  const runs = parts.reduce((sum, p) => sum + p.runs, 0);
  return {
    runs,
    runs_per_s: median(parts.map((p) => p.runs_per_s)),
    p50_ms: median(parts.map((p) => p.p50_ms)),
    p99_ms: Math.max(...parts.map((p) => p.p99_ms)),
  };
};

try {
  const registered = await fetch(`${theory.url}/v1/endpoints/${REF}`, {
    method: "PUT",
    headers,
    body: JSON.stringify(registrationFor(processor, DIGEST)),
  });
  if (!registered.ok) throw new Error(`endpoint registration failed: ${registered.status}`);
  await recordContainer(home, {
    ref: REF,
    platform: "amd64",
    container_id: "bench-source-processor",
    name: "theory-bench",
    port: BASE + 1,
    image: `127.0.0.1:5000/theory/processor@${DIGEST}`,
    image_digest: DIGEST,
    processor_token: processor.token,
    started_at: new Date().toISOString(),
  });
  agent = spawn(
    process.execPath,
    [join(root, "agent", "bin", "theory.js"), "agent", "--control-plane", theory.url, "--agent-id", AGENT],
    {
      env: {
        ...process.env,
        THEORY_HOME: home,
        THEORY_AGENT_TOKEN: agentGrant.token,
        THEORY_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );

  const rssAtStart = {
    theory: await workerdRssMiB(theory.child.pid as number),
    floor: await workerdRssMiB(floor.child.pid as number),
  };
  // Warm-up: the first requests compile the Workers and create objects.
  await measure(4, 20, theoryRun);
  await measure(4, 20, floorRun);
  await measure(4, 20, directRun);

  const latency = await rounds(
    LATENCY_ROUNDS,
    { floor: floorRun, theory: theoryRun, direct: directRun },
    1,
    LATENCY_PER_ROUND,
  );
  const at1 = Object.fromEntries(Object.entries(latency).map(([name, parts]) => [name, merge(parts)]));
  for (const [name, figures] of Object.entries(at1)) print({ bench: `latency.c1.${name}`, ...figures });
  const c1RatioToFloor = medianRatio(latency.theory, latency.floor, (f) => f.p50_ms);

  const throughput: Record<string, { theory: Figures; floor: Figures; ratio_to_floor: number }> = {};
  for (const concurrency of [16, 64]) {
    const runs = THROUGHPUT_RUNS[concurrency] as number;
    const parts = await rounds(THROUGHPUT_ROUNDS, { floor: floorRun, theory: theoryRun }, concurrency, runs);
    throughput[concurrency] = {
      theory: merge(parts.theory),
      floor: merge(parts.floor),
      ratio_to_floor: medianRatio(parts.theory, parts.floor, (f) => f.runs_per_s),
    };
    for (const name of ["floor", "theory"] as const)
      print({ bench: `throughput.c${concurrency}.${name}`, ...merge(parts[name]), rounds: parts[name] });
  }

  // What a thousand short runs leave in memory, beside what the floor's thousand leave.
  const rssAfterRuns = {
    theory: await workerdRssMiB(theory.child.pid as number),
    floor: await workerdRssMiB(floor.child.pid as number),
  };
  const streams: Record<string, Stream[]> = { direct: [], floor: [], theory: [] };
  for (let round = 0; round < STREAM_ROUNDS; round++) {
    streams.direct?.push(await directStream(STREAM_TOKENS));
    streams.floor?.push(await floorStream(STREAM_TOKENS));
    streams.theory?.push(await theoryStream(STREAM_TOKENS, "modal"));
  }
  // The round with the median tokens/s: a best-of-N favours whichever side is noisier.
  const typical = (list: Stream[]) =>
    [...list].sort((a, b) => a.tokens_per_s - b.tokens_per_s)[Math.floor(list.length / 2)] as Stream;
  const firstToken = Object.fromEntries(
    Object.entries(streams).map(([name, list]) => [name, median(list.map((s) => s.first_token_ms))]),
  );
  for (const [name, list] of Object.entries(streams))
    print({
      bench: `sse.${STREAM_TOKENS}.${name}`,
      ...typical(list),
      best_tokens_per_s: Math.max(...list.map((s) => s.tokens_per_s)),
      first_token_ms: firstToken[name],
      first_token_ms_rounds: list.map((s) => s.first_token_ms),
    });

  // Each long run twice: a second run that ends where the first did shows nothing is left behind.
  const longRun = async (target: "modal" | "local", round: number) => {
    const measured = await observed(theory, () => theoryStream(AGENT_TOKENS, target));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    measured.rss_mib.after = await workerdRssMiB(theory.child.pid as number);
    const name = target === "modal" ? "endpoint" : "agent";
    print({
      bench: `stream.${AGENT_TOKENS}.${name}.${round}`,
      ...measured.result,
      rss_mib: measured.rss_mib,
      healthz_ms_during: measured.healthz_ms,
    });
    return measured;
  };
  const endpointLong = await longRun("modal", 1);
  const endpointAgain = await longRun("modal", 2);
  const agentLong = await longRun("local", 1);
  const agentAgain = await longRun("local", 2);
  // The floor under the same flood: how promptly the platform alone answers meanwhile.
  const floorLong = await observed(floor, () => floorStream(AGENT_TOKENS, FLOOR_LONG_RUN_TIMEOUT_S));
  print({
    bench: `stream.${AGENT_TOKENS}.floor`,
    ...floorLong.result,
    healthz_ms_during: floorLong.healthz_ms,
  });
  const floor1 = at1.floor as Figures;
  const theory1 = at1.theory as Figures;
  const direct1 = at1.direct as Figures;
  const sse = {
    direct: typical(streams.direct ?? []),
    floor: typical(streams.floor ?? []),
    theory: typical(streams.theory ?? []),
  };
  print({
    bench: "summary",
    measured_at: new Date().toISOString(),
    p50_c1_ms: { theory: theory1.p50_ms, floor: floor1.p50_ms, direct: direct1.p50_ms },
    p50_c1_ratio: {
      to_floor: c1RatioToFloor,
      to_direct: ratio(theory1.p50_ms, direct1.p50_ms),
      target_to_floor: "<= 1.3",
    },
    p99_c1_ratio_to_floor: ratio(theory1.p99_ms, floor1.p99_ms),
    runs_per_s: Object.fromEntries(
      Object.entries(throughput).map(([c, f]) => [
        `c${c}`,
        {
          theory: f.theory.runs_per_s,
          floor: f.floor.runs_per_s,
          ratio_to_floor: f.ratio_to_floor,
        },
      ]),
    ),
    runs_per_s_c64_target_to_floor: ">= 0.8",
    sse_tokens_per_s: {
      theory: sse.theory.tokens_per_s,
      floor: sse.floor.tokens_per_s,
      direct: sse.direct.tokens_per_s,
      ratio_to_direct: ratio(sse.theory.tokens_per_s, sse.direct.tokens_per_s),
      target_to_direct: ">= 0.5",
      // Over every round, not only the median one.
      lost: Math.max(...(streams.theory ?? []).map((s) => STREAM_TOKENS - s.tokens)),
      ordered: (streams.theory ?? []).every((s) => s.ordered),
    },
    first_token_ms_median: {
      rounds: STREAM_ROUNDS,
      theory: firstToken.theory,
      floor: firstToken.floor,
      direct: firstToken.direct,
      ratio_to_floor_p50: ratio(firstToken.theory ?? 0, floor1.p50_ms),
      target_to_floor_p50: "<= 2",
    },
    agent_path: {
      tokens: AGENT_TOKENS,
      state: agentLong.result.state,
      received: agentLong.result.tokens,
      tokens_per_s: [agentLong.result.tokens_per_s, agentAgain.result.tokens_per_s],
      endpoint_tokens_per_s: [endpointLong.result.tokens_per_s, endpointAgain.result.tokens_per_s],
      ratio_to_endpoint_best: ratio(
        Math.max(agentLong.result.tokens_per_s, agentAgain.result.tokens_per_s),
        Math.max(endpointLong.result.tokens_per_s, endpointAgain.result.tokens_per_s),
      ),
      target_to_endpoint: ">= 0.8",
    },
    rss_mib: {
      after_short_runs: {
        theory: [rssAtStart.theory, rssAfterRuns.theory],
        floor: [rssAtStart.floor, rssAfterRuns.floor],
      },
      endpoint_runs: [endpointLong.rss_mib, endpointAgain.rss_mib],
      agent_runs: [agentLong.rss_mib, agentAgain.rss_mib],
      target_added_peak: "<= 100",
    },
    healthz_ms_during_long_runs: {
      endpoint: [endpointLong.healthz_ms, endpointAgain.healthz_ms],
      agent: [agentLong.healthz_ms, agentAgain.healthz_ms],
      floor: floorLong.healthz_ms,
    },
  });
} finally {
  agent?.kill("SIGTERM");
  // Every process is stopped even when another one's stop fails.
  await Promise.allSettled([theory.stop(), floor.stop(), processor.stop()]);
  await rm(dir, { recursive: true, force: true });
}
