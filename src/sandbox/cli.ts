#!/usr/bin/env node
/**
 * gatekeeper-sandbox: run the reference gatekeeper, add native users, chat as one.
 *
 *   gatekeeper-sandbox serve [--port 29500] [--host 127.0.0.1] [--db sandbox.sqlite]
 *       [--partner-id matrix --partner-auth-url URL --partner-secret-file FILE [--partner-media-origin URL]]
 *       [--public-http-url URL] [--allow-non-eea] [--limit NAME=VALUE ...] [--verbose]
 *   gatekeeper-sandbox user add +4917012345678 [--name Alice] [--opt-in [--partners a,b]] [--admin URL]
 *   gatekeeper-sandbox chat +4917012345678 [--admin URL] [--state FILE] [--media-dir DIR]
 *
 * Each command answers --help. The partner secret comes from a file or the environment
 * (SANDBOX_PARTNER_SECRET), so that it does not show in the process list.
 */
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { AdminClient } from "./admin-client.js";
import { runChat } from "./chat/index.js";
import { DEFAULT_LIMITS, type SandboxLimits, parseLimitOverride } from "./limits.js";
import type { LogFields, SandboxLogger } from "./logger.js";
import { type Sandbox, type SandboxPartnerConfig, startSandbox } from "./server.js";

export const DEFAULT_PORT = 29500;
const DEFAULT_ADMIN = `http://127.0.0.1:${DEFAULT_PORT}`;

/** The environment variable that may hold the partner secret for `serve`. */
export const PARTNER_SECRET_ENV = "SANDBOX_PARTNER_SECRET";

/** The limits and their defaults, wrapped to fit under the option column of the usage. */
function limitDefaults(indent: string, width = 92): string {
  const lines: string[] = [];
  let line = "";
  for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
    const item = `${name}=${String(value)}`;
    if (line !== "" && indent.length + line.length + 1 + item.length > width) {
      lines.push(line);
      line = "";
    }
    line = line === "" ? item : `${line} ${item}`;
  }
  return [...lines, line].map((l) => indent + l).join("\n");
}

const SERVE_USAGE = `usage: gatekeeper-sandbox serve [options]
  Runs the reference gatekeeper: the GKI/1 chat endpoint, its media host and admin API.

  --port PORT                   listen on PORT (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDRESS                listen on ADDRESS (default 127.0.0.1)
  --db FILE.sqlite              keep users, keys and queues in FILE (default: in memory)
  --public-http-url URL         the media host's URL as clients reach it (behind a proxy)
  --allow-non-eea               let partners' users log in with numbers outside the EEA
  --limit NAME=VALUE            set one of the limits below (repeatable; VALUE a positive
                                integer), e.g. for a load test:
                                --limit messagesPerWindow=100000 --limit newConversationsPerDay=100000
  --verbose                     log at debug level
  Register one partner (a bridge) at start-up; the first three go together:
  --partner-id ID               the partner's id (the bridge's gatekeeper.partner_id)
  --partner-auth-url URL        the bridge's auth callback, <public_base_url>/_gki/v1/auth
  --partner-secret-file FILE    a file holding the partner secret (or set ${PARTNER_SECRET_ENV};
                                --partner-secret SECRET works too, but shows in ps)
  --partner-media-origin URL    the bridge's public_base_url: lets native users fetch the
                                media the bridge's users send (Matrix -> gatekeeper media)
  The limits (docs/protocol.md §15) and their defaults:
${limitDefaults("    ")}
  Once it listens, serve prints its chat URL, HTTP URL and, last, "  public key:  BASE64".`;

const USER_ADD_USAGE = `usage: gatekeeper-sandbox user add +4917012345678 [options]
  Adds a native gatekeeper user through a running sandbox's admin API; prints it as JSON.

  --name NAME                   the user's push name
  --opt-in                      let partners' users (bridged users) reach this user
  --partners a,b|*              with --opt-in: only these partners (default *: all)
  --admin URL                   the sandbox's HTTP URL (default ${DEFAULT_ADMIN})`;

const CHAT_USAGE = `usage: gatekeeper-sandbox chat +4917012345678 [options]
  Chats in the terminal as a native gatekeeper user added with \`user add\`; /help inside
  lists the chat commands.

  --admin URL                   the sandbox's HTTP URL (default ${DEFAULT_ADMIN})
  --state FILE                  the user's keys and sessions (default: under
                                $XDG_STATE_HOME/gatekeeper-sandbox; :memory: keeps nothing)
  --media-dir DIR               save the images, videos, audio and files you receive in DIR
                                (created if missing; a name taken gets " (1)", …); without
                                it, a received file is only described
  In the chat: /send PATH [caption], /voice PATH, /reply ID text, /edit ID text,
  /react ID [EMOJI], /delete ID; ID is the #A1B2C3 shown in a message's line.
  Groups: /groups, /group create "Subject" +49…|JID …, /group add|remove|promote|demote
  +49…|JID …, /group subject TEXT, /group info, /group leave; /to GROUPJID (or /group N,
  /group SUBJECT) makes a group the current conversation.`;

const USAGE = `usage:
  gatekeeper-sandbox serve [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--db FILE.sqlite]
      [--partner-id ID --partner-auth-url URL --partner-secret-file FILE [--partner-media-origin URL]]
      [--public-http-url URL] [--allow-non-eea] [--limit NAME=VALUE ...] [--verbose]
  gatekeeper-sandbox user add +4917012345678 [--name NAME] [--opt-in [--partners a,b|*]] [--admin URL]
  gatekeeper-sandbox chat +4917012345678 [--admin URL] [--state FILE] [--media-dir DIR]
  gatekeeper-sandbox COMMAND --help     the command's options`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

class UsageError extends Error {}

function formatFields(fields?: LogFields): string {
  if (!fields) return "";
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${String(v)}`)
    .join("");
}

function cliLogger(io: CliIo, verbose: boolean): SandboxLogger {
  const line = (level: string, message: string, fields?: LogFields): string =>
    `${new Date().toISOString()} ${level} ${message}${formatFields(fields)}`;
  return {
    debug: (m, f) => verbose && io.err(line("debug", m, f)),
    info: (m, f) => io.err(line("info", m, f)),
    warn: (m, f) => io.err(line("warn", m, f)),
    error: (m, f) => io.err(line("error", m, f)),
  };
}

function port(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be 0..65535, not ${value}`);
  return n;
}

type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** The partner secret from --partner-secret-file, --partner-secret or the environment. */
function partnerSecret(v: OptionValues, env: NodeJS.ProcessEnv): string | undefined {
  const file = v["partner-secret-file"];
  const given = v["partner-secret"];
  if (typeof file === "string" && typeof given === "string") {
    throw new UsageError("give --partner-secret-file or --partner-secret, not both");
  }
  if (typeof file === "string") {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
      throw new UsageError(`--partner-secret-file: cannot read ${file} (${code})`);
    }
    // Files written with echo or an editor end in a newline that is not part of the secret.
    const secret = text.replace(/\r?\n$/, "");
    if (secret === "") throw new UsageError(`--partner-secret-file: ${file} is empty`);
    return secret;
  }
  if (typeof given === "string") return given;
  const fromEnv = env[PARTNER_SECRET_ENV];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

function partnerFrom(v: OptionValues, env: NodeJS.ProcessEnv): SandboxPartnerConfig[] {
  const id = v["partner-id"];
  const authUrl = v["partner-auth-url"];
  const mediaOrigin = v["partner-media-origin"];
  const secretGiven = v["partner-secret"] !== undefined || v["partner-secret-file"] !== undefined;
  if (id === undefined && authUrl === undefined && !secretGiven) return [];
  const secret = partnerSecret(v, env);
  if (typeof id !== "string" || typeof authUrl !== "string" || secret === undefined) {
    throw new UsageError(
      `--partner-id, --partner-auth-url and the partner secret (--partner-secret-file or ` +
        `${PARTNER_SECRET_ENV}) go together`,
    );
  }
  return [{ id, authUrl, secret, ...(typeof mediaOrigin === "string" ? { mediaOrigin } : {}) }];
}

/** The overrides given with --limit NAME=VALUE; a name given twice takes the last value. */
function limitsFrom(given: readonly string[] | undefined): Partial<SandboxLimits> {
  const limits: Partial<SandboxLimits> = {};
  for (const text of given ?? []) {
    try {
      const [name, value] = parseLimitOverride(text);
      limits[name] = value;
    } catch (err) {
      throw new UsageError(`--limit ${text}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return limits;
}

/** Starts the sandbox and prints where it is; the caller decides how long it runs. */
export async function serve(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Sandbox> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      db: { type: "string" },
      "partner-id": { type: "string" },
      "partner-auth-url": { type: "string" },
      "partner-secret": { type: "string" },
      "partner-secret-file": { type: "string" },
      "partner-media-origin": { type: "string" },
      "public-http-url": { type: "string" },
      "allow-non-eea": { type: "boolean" },
      limit: { type: "string", multiple: true },
      verbose: { type: "boolean" },
    },
  });
  const limits = limitsFrom(values.limit);
  const sandbox = await startSandbox({
    host: values.host ?? "127.0.0.1",
    port: port(values.port),
    ...(values.db === undefined ? {} : { db: { type: "sqlite", filename: values.db } }),
    partners: partnerFrom(values, env),
    ...(values["public-http-url"] === undefined
      ? {}
      : { publicHttpUrl: values["public-http-url"] }),
    requireEea: values["allow-non-eea"] !== true,
    limits,
    logger: cliLogger(io, values.verbose === true),
  });
  io.out("gatekeeper sandbox running");
  io.out(`  chat URL:    ${sandbox.url}`);
  io.out(`  HTTP URL:    ${sandbox.httpUrl}   (media: /media, admin API: /admin)`);
  const changed = Object.entries(limits).map(([name, value]) => `${name}=${String(value)}`);
  if (changed.length > 0) io.out(`  limits:      ${changed.join(" ")}`);
  // Last, so that a script waiting for this line has the URLs above it too.
  io.out(`  public key:  ${sandbox.publicKeyBase64}`);
  return sandbox;
}

async function userAdd(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      "opt-in": { type: "boolean" },
      partners: { type: "string" },
      admin: { type: "string" },
    },
  });
  const [phone] = positionals;
  if (phone === undefined || positionals.length > 1)
    throw new UsageError("user add takes one phone number");
  if (values.partners !== undefined && values["opt-in"] !== true)
    throw new UsageError("--partners needs --opt-in");
  const admin = new AdminClient(values.admin ?? DEFAULT_ADMIN);
  const user = await admin.addUser(phone, values.name);
  if (values["opt-in"] === true) {
    const partners =
      values.partners === undefined || values.partners === "*" ? "*" : values.partners.split(",");
    await admin.updateSettings(phone, { enabled: true, partners });
  }
  io.out(JSON.stringify({ ...user, optedIn: values["opt-in"] === true }, null, 2));
}

function defaultStatePath(phone: string): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(base, "gatekeeper-sandbox", `chat-${phone.replace(/\D/g, "")}.sqlite`);
}

async function chat(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      admin: { type: "string" },
      state: { type: "string" },
      "media-dir": { type: "string" },
    },
  });
  const [phone] = positionals;
  if (phone === undefined || positionals.length > 1)
    throw new UsageError("chat takes one phone number");
  const statePath = values.state ?? defaultStatePath(phone);
  if (statePath !== ":memory:") mkdirSync(dirname(statePath), { recursive: true });
  await runChat({
    adminUrl: values.admin ?? DEFAULT_ADMIN,
    phone,
    statePath,
    input: process.stdin,
    output: io.out,
    ...(values["media-dir"] === undefined ? {} : { mediaDir: values["media-dir"] }),
  });
}

/** `--help` or `-h` among a command's arguments (before a `--`). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** The usage of the command in `argv`, if its arguments ask for help. */
function commandHelp(command: string | undefined, rest: readonly string[]): string | undefined {
  if (!asksForHelp(rest)) return undefined;
  switch (command) {
    case "serve":
      return SERVE_USAGE;
    case "user":
      // `user` has one subcommand, `add`.
      return USER_ADD_USAGE;
    case "chat":
      return CHAT_USAGE;
    default:
      return undefined;
  }
}

/** Runs one command; resolves with the exit code. `serve` resolves when SIGINT or SIGTERM stops it. */
export async function main(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const [command, ...rest] = argv;
  const help = commandHelp(command, rest);
  if (help !== undefined) {
    io.out(help);
    return 0;
  }
  try {
    switch (command) {
      case "serve": {
        const sandbox = await serve(rest, io);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await sandbox.close();
        return 0;
      }
      case "user":
        if (rest[0] !== "add") throw new UsageError("the user command is: user add +49…");
        await userAdd(rest.slice(1), io);
        return 0;
      case "chat":
        await chat(rest, io);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        // `help serve` is `serve --help`.
        io.out(commandHelp(rest[0], ["--help"]) ?? USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      io.err(`${err.message}\n${USAGE}`);
      return 2;
    }
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
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

if (invokedDirectly()) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
