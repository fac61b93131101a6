#!/usr/bin/env node
/**
 * matrix-gatekeeper-bridge: generate the appservice registration, or run the bridge.
 *
 *   matrix-gatekeeper-bridge -r -c config.yaml -f registration.yaml -u http://localhost:29400
 *   matrix-gatekeeper-bridge -c config.yaml -f registration.yaml [-p 29400]
 *
 * The options are matrix-appservice-bridge's Cli's, parsed here (node:util) rather than by
 * Cli, which exits the process itself, needs the whole config to generate a registration and
 * writes the registration with the umask's mode. Generating a registration does not load
 * matrix-appservice-bridge at all.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  openSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { basename, isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import {
  applyRegistrationEnv,
  checkRegistration,
  ConfigError,
  fileErrorMessage,
  loadConfig,
  loadRegistrationConfig,
  registrationFor,
  registrationTokensFromEnv,
} from "./config/index.js";
import type { Env, RegistrationConfig, RegistrationDocument } from "./config/index.js";
import type { AppServiceRegistration } from "./matrix/appservice-bridge.js";
import { errorText } from "./util/logger.js";

const NAME = "matrix-gatekeeper-bridge";
const DEFAULT_REGISTRATION = "registration.yaml";

export const USAGE = `usage:
  ${NAME} -r -c config.yaml -u URL [-f ${DEFAULT_REGISTRATION}]
      write the appservice registration for the homeserver; URL is where the homeserver
      reaches the bridge (appservice.port), e.g. http://localhost:29400
  ${NAME} -c config.yaml [-f ${DEFAULT_REGISTRATION}] [-p PORT]
      run the bridge

options:
  -c, --config FILE                the bridge's configuration (see config.sample.yaml)
  -f, --file FILE                  the registration to write (-r) or read (default ${DEFAULT_REGISTRATION})
  -r, --generate-registration      write the registration and exit
  -u, --url URL                    with -r: the URL the homeserver pushes events to
  -p, --port PORT                  listen on PORT instead of appservice.port
  -h, --help                       show this help`;

/**
 * The registration for `config`: fresh random tokens (as matrix-appservice-bridge makes them)
 * unless GKB_AS_TOKEN / GKB_HS_TOKEN are set.
 */
export function newRegistration(
  config: RegistrationConfig,
  url: string,
  env: Env,
): RegistrationDocument {
  const fromEnv = registrationTokensFromEnv(env);
  const token = (): string => randomBytes(32).toString("hex");
  return registrationFor(config, {
    url,
    asToken: fromEnv.asToken ?? token(),
    hsToken: fromEnv.hsToken ?? token(),
  });
}

class UsageError extends Error {}

interface Options {
  generate: boolean;
  config: string;
  registration: string;
  url: string | undefined;
  port: number | undefined;
}

/** The parsed command line, or "help". Throws UsageError. */
export function parseCommandLine(args: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "generate-registration": { type: "boolean", short: "r" },
        config: { type: "string", short: "c" },
        file: { type: "string", short: "f" },
        url: { type: "string", short: "u" },
        port: { type: "string", short: "p" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return "help";
  const generate = values["generate-registration"] === true;
  if (values.config === undefined) throw new UsageError("missing -c / --config FILE");
  if (generate && values.url === undefined) {
    throw new UsageError("missing -u / --url: where the homeserver reaches the bridge");
  }
  if (generate && values.port !== undefined) {
    throw new UsageError("-p / --port is for running the bridge, not with -r");
  }
  if (!generate && values.url !== undefined) {
    throw new UsageError("-u / --url goes with -r (the URL is in the registration)");
  }
  if (values.url !== undefined && !/^https?:\/\/[^\s/?#]+/.test(values.url)) {
    throw new UsageError(`-u must be an http:// or https:// URL, not ${values.url}`);
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new UsageError(`-p must be a port number (0-65535), not ${values.port}`);
    }
  }
  return {
    generate,
    config: values.config,
    registration: values.file ?? DEFAULT_REGISTRATION,
    url: values.url,
    port,
  };
}

/** A path as the admin would write it: relative when under the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : resolve(path);
}

/** How this program was started, to print the command that runs the bridge. */
function invocation(): string {
  const script = process.argv[1] ?? NAME;
  // The npm bin link: `npx matrix-gatekeeper-bridge`, or the command itself when installed.
  if (basename(script) === NAME) return process.env.npm_command === "exec" ? `npx ${NAME}` : NAME;
  return ["node", ...process.execArgv, shown(script)].join(" ");
}

/**
 * Writes the registration readable by its owner only (it holds both tokens), also when the
 * file exists already: its mode is set before the tokens are written.
 */
function writeRegistration(path: string, doc: RegistrationDocument): void {
  const fd = openSync(path, "w", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeFileSync(fd, yaml.dump(doc));
  } finally {
    closeSync(fd);
  }
}

/** `-r`: writes the registration and says what to do with it (never the tokens). */
export function generateRegistration(o: Options, env: Env, out: (line: string) => void): void {
  const url = o.url ?? "";
  const config = loadRegistrationConfig(shown(o.config));
  const path = resolve(o.registration);
  try {
    writeRegistration(path, newRegistration(config, url, env));
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError("unreadable", shown(path), [
      { path: "", message: `cannot write the file (${code})` },
    ]);
  }
  const listens = String(config.appservice.port);
  const urlPort = new URL(url).port || (url.startsWith("https:") ? "443" : "80");
  out(`Wrote the appservice registration to ${path} (mode 0600: it holds the tokens).`);
  out("Next:");
  out("  1. Add it to app_service_config_files in the homeserver's config (homeserver.yaml):");
  out("       app_service_config_files:");
  out(`         - ${path}`);
  out("     If the homeserver runs as another user, copy the file for it or let its group read it");
  out("     (chmod 640).");
  out("  2. Restart the homeserver: it reads registrations only at start-up.");
  out("  3. Start the bridge:");
  out(`       ${invocation()} -c ${shown(o.config)} -f ${shown(path)}`);
  if (urlPort !== listens) {
    out(
      `Note: the URL has port ${urlPort} but the bridge listens on appservice.port (${listens}). ` +
        `Unless something forwards one to the other, set appservice.port: ${urlPort} ` +
        `(or start the bridge with -p ${urlPort}).`,
    );
  }
}

/** Reads a registration file as the homeserver would. Throws ConfigError naming the file. */
async function readRegistration(path: string): Promise<AppServiceRegistration> {
  const source = shown(path);
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, "utf8"), { filename: source });
  } catch (err) {
    const code =
      err instanceof Error && err.name === "YAMLException" ? "invalid-yaml" : "unreadable";
    throw new ConfigError(code, source, [{ path: "", message: fileErrorMessage(err) }], {
      cause: err,
    });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ConfigError("invalid", source, [
      { path: "", message: "is not a registration (generate it with -r)" },
    ]);
  }
  const { AppServiceRegistration } = await import("./matrix/appservice-bridge.js");
  return AppServiceRegistration.fromObject(doc as never);
}

/** Prints what went wrong and ends the process; a stack only for errors nobody anticipated. */
function exitWithError(err: unknown): never {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else if (err instanceof Error && "code" in err) {
    // Typed errors (database, gatekeeper, ...) carry messages meant for the admin.
    console.error(`error: ${err.message}`);
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : `error: ${String(err)}`);
  }
  process.exit(1);
}

async function run(o: Options, env: Env): Promise<void> {
  const config = loadConfig(shown(o.config), env);
  const registration = await readRegistration(o.registration);
  applyRegistrationEnv(registration, env);
  checkRegistration(config, registration, shown(o.registration));
  const { Logger } = await import("./matrix/appservice-bridge.js");
  Logger.configure({
    console: config.logging.level,
    json: config.logging.format === "json",
    timestampFormat: "YYYY-MM-DDTHH:mm:ss.SSSZ",
  });
  // Loaded only here: generating a registration must not need the whole bridge.
  const { startBridge } = await import("./bridge.js");
  const bridge = await startBridge(config, registration, {
    port: o.port ?? config.appservice.port,
  });
  // A stray rejection from some library callback must not take every user's chats down with
  // the process: all state that matters is in the database, so it is logged and the bridge
  // goes on. (Node's default would exit.)
  const processLog = new Logger("Process");
  process.on("unhandledRejection", (reason) => {
    processLog.error(`unhandled promise rejection: ${errorText(reason)}`);
  });
  const stop = (): void => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    bridge.stop().then(
      () => process.exit(0),
      (err: unknown) => exitWithError(err),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

export function main(args: string[] = process.argv.slice(2), env: Env = process.env): void {
  let options: Options | "help";
  try {
    options = parseCommandLine(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  if (options.generate) {
    try {
      generateRegistration(options, env, (line) => console.log(line));
    } catch (err) {
      exitWithError(err);
    }
    return;
  }
  run(options, env).catch(exitWithError);
}

/** True when this file is the program (also through the npm bin symlink), not an import. */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) main();
