#!/usr/bin/env node
/**
 * matrix-gatekeeper-bridge: generate the appservice registration, or run the bridge.
 *
 *   matrix-gatekeeper-bridge -r -c config.yaml -f registration.yaml -u http://localhost:29400
 *   matrix-gatekeeper-bridge -c config.yaml -f registration.yaml [-p 29400]
 *
 * Argument parsing and the registration file are matrix-appservice-bridge's Cli; the config
 * is read by Cli but checked by our own loader (src/config), which names the bad key.
 */
import { realpathSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import { pathToFileURL } from "node:url";
import {
  applyRegistrationEnv,
  checkRegistration,
  ConfigError,
  fileErrorMessage,
  loadConfig,
  parseConfig,
  registrationFor,
  registrationTokensFromEnv,
} from "./config/index.js";
import type { Config, Env, RegistrationDocument } from "./config/index.js";
import { AppServiceRegistration, Cli, Logger } from "./matrix/appservice-bridge.js";
import type { AppServiceOutput, CliOpts } from "./matrix/appservice-bridge.js";
import { errorText } from "./util/logger.js";

type RawConfigObject = Record<string, unknown>;

/**
 * AppServiceRegistration writes only the unstable MSC2409 key; current homeservers read the
 * stable `receive_ephemeral`, so the file carries both.
 */
export class GatekeeperRegistration extends AppServiceRegistration {
  override getOutput(): AppServiceOutput & { receive_ephemeral: boolean } {
    return { ...super.getOutput(), receive_ephemeral: this.pushEphemeralEnabled() };
  }

  static fromDocument(doc: RegistrationDocument): GatekeeperRegistration {
    const reg = new GatekeeperRegistration(doc.url);
    reg.setId(doc.id);
    reg.setAppServiceToken(doc.as_token);
    reg.setHomeserverToken(doc.hs_token);
    reg.setSenderLocalpart(doc.sender_localpart);
    for (const ns of doc.namespaces.users) reg.addRegexPattern("users", ns.regex, ns.exclusive);
    reg.setRateLimited(doc.rate_limited);
    reg.pushEphemeral = doc["de.sorunome.msc2409.push_ephemeral"];
    reg.setProtocols(doc.protocols);
    return reg;
  }
}

/** The registration for `config`: fresh random tokens unless GKB_AS_TOKEN / GKB_HS_TOKEN are set. */
export function newRegistration(config: Config, url: string, env: Env): GatekeeperRegistration {
  const fromEnv = registrationTokensFromEnv(env);
  return GatekeeperRegistration.fromDocument(
    registrationFor(config, {
      url,
      asToken: fromEnv.asToken ?? AppServiceRegistration.generateToken(),
      hsToken: fromEnv.hsToken ?? AppServiceRegistration.generateToken(),
    }),
  );
}

/** A path as the admin would write it: relative when under the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
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

function configOf(cli: Cli<RawConfigObject>, raw: unknown, env: Env): Config {
  const path = cli.getArgs()?.config;
  return parseConfig(raw, path ? shown(path) : "config", env);
}

async function run(
  cli: Cli<RawConfigObject>,
  port: number | null,
  raw: unknown,
  registration: AppServiceRegistration | null,
  env: Env,
): Promise<void> {
  const config = configOf(cli, raw, env);
  if (!registration) throw new Error("no registration file was loaded");
  applyRegistrationEnv(registration, env);
  checkRegistration(config, registration, shown(cli.getRegistrationFilePath()));
  Logger.configure({
    console: config.logging.level,
    json: config.logging.format === "json",
    timestampFormat: "YYYY-MM-DDTHH:mm:ss.SSSZ",
  });
  // Loaded only here: generating a registration must not need the whole bridge.
  const { startBridge } = await import("./bridge.js");
  const bridge = await startBridge(config, registration, {
    port: port ?? config.appservice.port,
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

export function main(env: Env = process.env): void {
  // Cli validates with its own schema library when given a schema; we leave it out so that
  // Cli only reads the YAML (and insists on -c), and check it in src/config.
  const bridgeConfig = {
    affectsRegistration: true,
    defaults: {},
  } as CliOpts<RawConfigObject>["bridgeConfig"];
  const cli: Cli<RawConfigObject> = new Cli<RawConfigObject>({
    registrationPath: "registration.yaml",
    enableRegistration: true,
    enableLocalpart: false,
    bridgeConfig,
    generateRegistration(reg, done) {
      const config = configOf(cli, cli.getConfig(), env);
      done(newRegistration(config, reg.getAppServiceUrl() ?? "", env));
    },
    run(port, raw, registration) {
      run(cli, port, raw, registration, env).catch(exitWithError);
    },
  });
  try {
    cli.run();
  } catch (err) {
    if (err instanceof ConfigError) exitWithError(err);
    // Cli reads both files itself, so a missing file or bad YAML surfaces here. It reads the
    // config first: while it has none, the config is what failed, and our own loader says
    // precisely why.
    const configPath = cli.getArgs()?.config;
    if (cli.getConfig() === null && configPath) {
      try {
        loadConfig(shown(configPath), env);
      } catch (ours) {
        if (ours instanceof ConfigError) exitWithError(ours);
      }
    }
    const file = cli.getConfig() === null ? configPath : cli.getRegistrationFilePath();
    const problem = { path: "", message: fileErrorMessage(err) };
    exitWithError(new ConfigError("unreadable", file ? shown(file) : "config", [problem]));
  }
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
