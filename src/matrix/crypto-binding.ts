/**
 * matrix-appservice-bridge -> @vector-im/matrix-bot-sdk -> @matrix-org/matrix-sdk-crypto-nodejs.
 *
 * That last package downloads its native binary from GitHub in a postinstall script. Where the
 * download fails (an offline build host, a registry-only network), its NAPI-RS loader falls back
 * to `require("@matrix-org/matrix-sdk-crypto-nodejs-<platform>")`, a package that does not exist
 * on the npm registry, and *importing* matrix-appservice-bridge throws, although the bridge never
 * uses Matrix end-to-end encryption (it is an appservice without E2EE for now).
 *
 * `ensureMatrixCryptoBinding()` runs before matrix-appservice-bridge is first imported (see
 * ./appservice-bridge.ts). It loads the real binding if it can. If it cannot, it registers, in
 * Node's CommonJS cache under the real package's path, a stand-in whose every use throws
 * `MatrixCryptoUnavailableError` with a clear message. Where the binary exists nothing changes.
 */
import { createRequire } from "node:module";

export type MatrixCryptoBindingState =
  { state: "native" } | { state: "unavailable"; reason: string } | { state: "not-installed" };

export class MatrixCryptoUnavailableError extends Error {
  readonly code = "matrix-crypto-unavailable";
  constructor(what: string, reason: string) {
    super(
      `Matrix end-to-end encryption is not available in this installation (used: ${what}). ` +
        `The native module @matrix-org/matrix-sdk-crypto-nodejs could not be loaded: ${reason}. ` +
        `Install on a host that can download its binary (see docs/setup.md, "Matrix crypto binary").`,
    );
    this.name = "MatrixCryptoUnavailableError";
  }
}

let cached: MatrixCryptoBindingState | undefined;

/** Resolve the crypto package exactly as matrix-bot-sdk would, so the cache entry we plant is the one it loads. */
function resolveCryptoPackage(): { path: string; load: (path: string) => unknown } | undefined {
  const here = createRequire(import.meta.url);
  try {
    const bridgeEntry = here.resolve("matrix-appservice-bridge");
    const botSdkEntry = createRequire(bridgeEntry).resolve("@vector-im/matrix-bot-sdk");
    const fromBotSdk = createRequire(botSdkEntry);
    return { path: fromBotSdk.resolve("@matrix-org/matrix-sdk-crypto-nodejs"), load: fromBotSdk };
  } catch {
    return undefined;
  }
}

/** A value that can be read, called and constructed at any depth, and throws when used. */
function unavailableProxy(path: string, reason: string): unknown {
  const fail = (): never => {
    throw new MatrixCryptoUnavailableError(path, reason);
  };
  const target = function unavailableCryptoBinding() {};
  return new Proxy(target, {
    get(_t, prop) {
      // Let module loaders and inspectors probe without tripping the error.
      if (prop === "__esModule") return false;
      if (prop === "then" || typeof prop === "symbol") return undefined;
      return unavailableProxy(`${path}.${String(prop)}`, reason);
    },
    apply: fail,
    construct: fail,
  });
}

export function ensureMatrixCryptoBinding(): MatrixCryptoBindingState {
  if (cached) return cached;
  const pkg = resolveCryptoPackage();
  if (!pkg) return (cached = { state: "not-installed" });
  try {
    pkg.load(pkg.path);
    return (cached = { state: "native" });
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0]! : String(err);
    const cache = createRequire(import.meta.url).cache;
    const stub = unavailableProxy("@matrix-org/matrix-sdk-crypto-nodejs", reason);
    // Minimal Module-shaped cache entry: require() only reads `exports` and `loaded`.
    cache[pkg.path] = {
      id: pkg.path,
      filename: pkg.path,
      loaded: true,
      exports: stub,
      children: [],
      paths: [],
      path: pkg.path,
    } as unknown as NodeJS.Module;
    return (cached = { state: "unavailable", reason });
  }
}
