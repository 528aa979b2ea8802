// Starts the real peers the workerd tests talk to (an S3-compatible store, the real processor for
// each tool, and a peer that misbehaves as its message asks), prints their URLs as one JSON line on
// stdout, and stops them when stdin closes. Run as its own Node process: the workerd test project
// resolves packages for the browser, which `ws` servers cannot run under.

import { echoTool } from "../../processor/tools/echo.ts";
import { startColdEndpoint } from "./cold-endpoint.ts";
import { DIGEST_B } from "./examples.ts";
import { startProcessor } from "./processor.ts";
import { startProxyAuthGate } from "./proxy-auth-gate.ts";
import { startRogueProcessor } from "./rogue-processor.ts";
import { startS3 } from "./s3.ts";
import { TEST_MODAL_PROXY, TEST_WEBHOOK_SIGNING_SECRET } from "./tokens.ts";
import { startWebhookReceiver } from "./webhook-receiver.ts";

const s3 = await startS3("theory");
const litellm = await startProcessor({ toolRef: "llm/litellm@1" });
const echo = await startProcessor({
  toolRef: "echo/text@1",
  env: { ENV_FINGERPRINT: "cpu:0.25;memory:256Mi" },
});
// The same tool from a rebuilt image: another digest, so its envelopes drift from echo's.
const echoRebuilt = await startProcessor({
  toolRef: "echo/text@1",
  env: { ENV_FINGERPRINT: "cpu:0.25;memory:256Mi", IMAGE_DIGEST: DIGEST_B },
});
// The same tool and digest, but its output changed (a nondeterministic tool, or one whose behaviour
// moved under a pinned image): its envelopes drift from echo's in the proof alone.
const shoutingEcho: typeof echoTool = {
  ...echoTool,
  run: async ({ params }) => ({ "text/echo.txt": params.text.toUpperCase() }),
};
const echoChanged = await startProcessor({
  toolRef: "echo/text@1",
  env: { ENV_FINGERPRINT: "cpu:0.25;memory:256Mi" },
  tools: [shoutingEcho],
});
const rogue = await startRogueProcessor({
  script: (socket, payload) => {
    const ack = () => socket.send(JSON.stringify({ kind: "Ack", content: { run_id: payload.run_id } }));
    switch (payload.inputs?.params?.messages?.[0]?.content) {
      case "hang":
        return ack();
      case "garbage":
        ack();
        return socket.send("{{not json");
      case "close":
        ack();
        return socket.close(1000);
      default:
        return socket.close(1011);
    }
  },
});
const receiver = await startWebhookReceiver(TEST_WEBHOOK_SIGNING_SECRET);
const gate = await startProxyAuthGate({
  targetPort: Number(new URL(litellm.http).port),
  ...TEST_MODAL_PROXY,
});
// Cold for 250 ms after a second of quiet: inside the control plane's 1.5 s health budget in tests.
const cold = await startColdEndpoint({
  targetPort: Number(new URL(litellm.http).port),
  coldMs: 250,
  idleMs: 1000,
});
process.stdout.write(
  `${JSON.stringify({ s3Endpoint: s3.endpoint, processors: { litellm: litellm.http, echo: echo.http, echoRebuilt: echoRebuilt.http, echoChanged: echoChanged.http, rogue: rogue.url, receiver: receiver.url, proxyGate: gate.url, cold: cold.url } })}\n`,
);
process.stdin.resume();
process.stdin.on("end", async () => {
  await Promise.all([
    s3.close(),
    litellm.close(),
    echo.close(),
    echoRebuilt.close(),
    echoChanged.close(),
    rogue.close(),
    receiver.close(),
    gate.close(),
    cold.close(),
  ]);
  process.exit(0);
});
