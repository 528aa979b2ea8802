/** What the Node peers (test/support/peers-main.ts) provide to the workerd tests. */
export interface Peers {
  s3Endpoint: string;
  processors: {
    litellm: string;
    echo: string;
    /** echo/text@1 from another image digest. */
    echoRebuilt: string;
    /** echo/text@1 at echo's digest, writing other bytes. */
    echoChanged: string;
    rogue: string;
    receiver: string;
    proxyGate: string;
    cold: string;
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    s3Endpoint: Peers["s3Endpoint"];
    processors: Peers["processors"];
  }
}
