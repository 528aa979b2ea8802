// The container's entry point: config from the environment, logged once, then serve.
import { createLogger } from "../src/core/log.ts";
import { PROCESSOR_TOKEN_ENV } from "../src/core/processor-auth.ts";
import { describeConfig, loadProcessorConfig } from "./config.ts";
import { createProcessorServer } from "./server.ts";
import { TOOLS } from "./tools/index.ts";

// The token on the secrets list: whatever a line carries, the token's value never reaches a log.
const token = process.env[PROCESSOR_TOKEN_ENV];
const log = createLogger({ fields: { target: "processor" }, secrets: token ? [token] : [] });
try {
  const config = loadProcessorConfig(process.env);
  log.info("config.resolved", describeConfig(config));
  const server = createProcessorServer({ config, tools: TOOLS, log: log.child({ ref: config.toolRef }) });
  const port = await server.listen();
  log.info("processor.listen", { ref: config.toolRef, port });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info("processor.stop", { signal });
      void server.close().then(() => process.exit(0));
    });
  }
} catch (error) {
  log.error("error.processor.start", { error: error as Error });
  process.exit(1);
}
