// Bounded load loops for the benchmark scripts: a fixed number of runs at a fixed concurrency.
import WebSocket from "ws";
import { RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";
import { processorAuthHeaders } from "../../src/core/processor-auth.ts";

export interface Figures {
  runs: number;
  runs_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

const round = (n: number) => Math.round(n * 100) / 100;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function measure(
  concurrency: number,
  runs: number,
  once: (i: number) => Promise<void>,
): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const i = next++;
        const t0 = performance.now();
        await once(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    runs,
    runs_per_s: round(runs / seconds),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
  };
}

/** One theory.run.v1 run straight against a processor (admitted with its token); resolves when it succeeded. */
export function wsRun(url: string, token: string, payloadJson: string, onToken?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, [RUN_SUBPROTOCOL], { headers: processorAuthHeaders(token) });
    let succeeded = false;
    socket.on("open", () =>
      socket.send(`{"kind":"RunOpen","content":{"role":"client","payload":${payloadJson}}}`),
    );
    socket.on("message", (data) => {
      const text = data.toString();
      if (text.includes('"kind":"Token"')) onToken?.();
      else if (text.includes('"kind":"RunResult"')) succeeded = text.includes('"status":"success"');
    });
    socket.on("close", () => (succeeded ? resolve() : reject(new Error("run did not succeed"))));
    socket.on("error", reject);
  });
}

export const print = (figures: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify(figures)}\n`);
