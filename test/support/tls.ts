import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import { createServer } from "node:tls";

export interface TestCa {
  caCert: string;
  /** A key and certificate for 127.0.0.1 and localhost, signed by the CA. */
  key: string;
  cert: string;
  /** A self-signed key and certificate no one trusts. */
  untrustedKey: string;
  untrustedCert: string;
}

const openssl = (dir: string, ...args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });

/** A throwaway CA and server certificates, made with the openssl CLI into `dir`. */
export function makeTestCa(dir: string): TestCa {
  const san = "subjectAltName=IP:127.0.0.1,DNS:localhost";
  // Server certificates are leaves; a strict TLS stack (workerd's) refuses a CA as an end entity.
  const leaf = "basicConstraints=critical,CA:FALSE";
  const newKey = (name: string) => ["-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-days", "2"];
  const selfSigned = (name: string, subject: string, ...extensions: string[]) =>
    openssl(dir, "req", "-x509", ...newKey(name), "-out", `${name}.pem`, "-subj", subject, ...extensions);
  selfSigned("ca", "/CN=theory test CA");
  selfSigned("untrusted", "/CN=127.0.0.1", "-addext", san, "-addext", leaf);
  openssl(
    dir,
    "req",
    ...newKey("server"),
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    san,
    "-addext",
    leaf,
  );
  const sign = [
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-copy_extensions",
    "copy",
    "-days",
    "2",
  ];
  openssl(dir, "x509", "-req", "-in", "server.csr", "-out", "server.pem", ...sign);
  return readTestCa(dir);
}

/** The CA and certificates `makeTestCa` wrote into `dir`. */
export function readTestCa(dir: string): TestCa {
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  return {
    caCert: read("ca.pem"),
    key: read("server.key"),
    cert: read("server.pem"),
    untrustedKey: read("untrusted.key"),
    untrustedCert: read("untrusted.pem"),
  };
}

/** Terminates TLS on loopback and pipes the plain bytes to `targetPort`: https/wss in front of a processor. */
export async function startTlsTerminator(options: { targetPort: number; key: string; cert: string }) {
  const open = new Set<{ destroy(): void }>();
  const server = createServer({ key: options.key, cert: options.cert }, (secure) => {
    open.add(secure);
    secure.once("close", () => open.delete(secure));
    const plain = connect(options.targetPort, "127.0.0.1");
    secure.pipe(plain).pipe(secure);
    const end = () => {
      secure.destroy();
      plain.destroy();
    };
    secure.on("error", end);
    plain.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Stops listening and cuts every connection (a pooled keep-alive one would hold it open). */
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
