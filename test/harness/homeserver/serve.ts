/**
 * The test homeserver as a process of its own, for the load bench and manual runs where every
 * part runs separately:
 *
 *   node --import tsx test/harness/homeserver/serve.ts --port 8008 --registration registration.yaml
 *
 * It prints `listening http://127.0.0.1:PORT` once it accepts requests and stops on SIGTERM or
 * SIGINT (exit 0). Bad arguments exit 2, anything else that stops it from starting exits 1.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { type AppServiceRegistrationLike, startTestHomeserver } from "./index.js";

const USAGE = `usage: node --import tsx test/harness/homeserver/serve.ts [options]
  Runs the test homeserver (state in memory) until SIGTERM or SIGINT.

  --port PORT                    listen on PORT (default 0: a free one)
  --host 127.0.0.1               the address it listens on; only loopback is offered
  --server-name NAME             the server_name of its user ids (default localhost)
  --registration FILE            an application service registration, as the bridge's -r
                                 writes it (YAML); repeatable
  --registration-secret SECRET   enable Synapse's shared-secret registration
                                 (/_synapse/admin/v1/register) with SECRET

  Once it accepts requests it prints one line: listening http://127.0.0.1:PORT`;

/** The one address startTestHomeserver listens on. */
const HOST = "127.0.0.1";

class UsageError extends Error {}

function portOf(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new UsageError(`--port must be 0..65535, not ${value}`);
  return n;
}

/** A registration file as the homeserver reads it; refuses what is not one. */
function readRegistration(path: string): AppServiceRegistrationLike {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, "utf8"), { filename: path });
  } catch (err) {
    const why = err instanceof Error && "code" in err ? String(err.code) : (err as Error).message;
    throw new UsageError(`--registration: cannot read ${path} (${why})`);
  }
  const reg = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
  const missing = ["id", "as_token", "hs_token", "sender_localpart"].filter(
    (key) => typeof reg[key] !== "string" || reg[key] === "",
  );
  if (reg.url !== null && typeof reg.url !== "string") missing.push("url");
  if (missing.length > 0) {
    throw new UsageError(
      `--registration: ${path} is not an application service registration ` +
        `(no ${missing.join(", ")}); write one with matrix-gatekeeper-bridge -r`,
    );
  }
  return reg as unknown as AppServiceRegistrationLike;
}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "server-name": { type: "string" },
      registration: { type: "string", multiple: true },
      "registration-secret": { type: "string" },
    },
  });
  if (values.host !== undefined && values.host !== HOST) {
    throw new UsageError(`--host: the test homeserver listens on ${HOST} only`);
  }
  if (values["registration-secret"] === "") {
    throw new UsageError("--registration-secret must not be empty");
  }
  return {
    port: portOf(values.port),
    serverName: values["server-name"] ?? "localhost",
    registrations: (values.registration ?? []).map(readRegistration),
    registrationSharedSecret: values["registration-secret"],
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let opts: ReturnType<typeof options>;
  try {
    opts = options(argv);
  } catch (err) {
    const parseError =
      err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS");
    if (!(err instanceof UsageError) && !parseError) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 2;
  }
  const hs = await startTestHomeserver({
    port: opts.port,
    serverName: opts.serverName,
    registrations: opts.registrations,
    ...(opts.registrationSharedSecret === undefined
      ? {}
      : { registrationSharedSecret: opts.registrationSharedSecret }),
  });
  process.stdout.write(`listening ${hs.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await hs.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
