// The container's entry point: config from the environment, logged once, then serve.
import { createLogger } from "../src/core/log.ts";
import { describeConfig, loadProcessorConfig } from "./config.ts";
import { createProcessorServer } from "./server.ts";
import { TOOLS } from "./tools/index.ts";

const log = createLogger({ fields: { target: "processor" } });
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
