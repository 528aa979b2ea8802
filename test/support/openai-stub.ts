import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface UpstreamRequest {
  path: string;
  authorization: string | undefined;
  body: any;
}

/**
 * A local OpenAI-compatible chat completions server speaking real HTTP and SSE, so the official
 * client is exercised end to end. `failWith` makes it answer that status instead.
 */
export async function startOpenAiCompatible(options: { tokens: string[]; failWith?: number }) {
  const requests: UpstreamRequest[] = [];
  const readBody = async (req: IncomingMessage) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    return JSON.parse(text);
  };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ path: req.url ?? "", authorization: req.headers.authorization, body });
    if (options.failWith) {
      res.writeHead(options.failWith, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { message: "upstream detail that must not leak", type: "server_error" } }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: "assistant", content: "" }));
    for (const token of options.tokens) res.write(chunk({ content: token }));
    res.write(chunk({}, "stop"));
    res.end("data: [DONE]\n\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
