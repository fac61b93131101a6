/**
 * Where e2e tests run: the in-process test homeserver (default), or a real homeserver when
 * E2E_HOMESERVER_URL is set. Tests written against `E2eTarget` use only spec endpoints (through
 * matrix-js-sdk and the bridge), so the same scenarios run against both. See ./README.md.
 */
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import yaml from "js-yaml";
import { startTestHomeserver } from "./homeserver/index.js";
import type { AppServiceRegistrationLike, TestHomeserver } from "./homeserver/index.js";

export interface E2eUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface AppServiceSpec {
  id: string;
  senderLocalpart: string;
  /** Puppet localparts start with this (the exclusive user namespace), e.g. "gk_". */
  userPrefix: string;
  receiveEphemeral?: boolean;
}

export interface E2eAppService {
  /** The registration the homeserver uses (url included). */
  registration: AppServiceRegistrationLike;
  /** Where the application service under test must listen. */
  listen: { host: string; port: number };
}

export interface E2eTarget {
  readonly kind: "in-process" | "external";
  readonly url: string;
  readonly serverName: string;
  /**
   * A new user with a logged-in device. Against a real homeserver the localpart gets a per-run
   * suffix (accounts outlive runs): always use the returned userId.
   */
  registerUser(localpart: string, password?: string): Promise<E2eUser>;
  /** The application service registration in force for this target (see README). */
  appService(spec: AppServiceSpec): Promise<E2eAppService>;
  /** The in-process homeserver, for harness-only checks; undefined against a real one. */
  readonly homeserver: TestHomeserver | undefined;
  /**
   * Stops and starts the real homeserver (its state kept), when the environment says how
   * (E2E_HOMESERVER_RESTART, set by `npm run test:synapse`); undefined otherwise.
   */
  readonly restartHomeserver: (() => Promise<void>) | undefined;
  close(): Promise<void>;
}

export class E2eSetupError extends Error {
  constructor(
    readonly code: "registration-not-installed" | "registration-mismatch" | "registration-failed",
    message: string,
  ) {
    super(message);
    this.name = "E2eSetupError";
  }
}

export interface ExternalTargetConfig {
  url: string;
  serverName: string;
  /** Synapse's registration_shared_secret; without it, /register with m.login.dummy is used. */
  registrationSecret?: string;
  /**
   * The registration file the tests write and the operator installs. `{worker}` in it is
   * replaced by the test worker's number (VITEST_POOL_ID), so that parallel test files use
   * registrations of their own (`npm run test:synapse` installs one per worker).
   */
  registrationFile: string;
  /** URL the homeserver uses to reach the application service. */
  appServiceUrl: string;
  /** host:port the application service binds (default: the registration URL's host and port). */
  appServiceListen?: string;
  /** A shell command that restarts the homeserver, keeping its state. */
  restartCommand?: string;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const newToken = (): string => randomBytes(32).toString("hex");

/**
 * The puppet prefix of a registration: its exclusive user namespace is `@<prefix>.*:<server>`
 * (or `.+`). Undefined for any other shape.
 */
export function puppetPrefixOf(
  registration: AppServiceRegistrationLike,
  serverName: string,
): string | undefined {
  for (const ns of registration.namespaces?.users ?? []) {
    // registrationFor writes `.*`, the bridge's own `-r` writes `.+`.
    const suffix = [".*", ".+"]
      .map((any) => `${any}:${escapeRegex(serverName)}`)
      .find((sfx) => ns.regex.endsWith(sfx));
    if (!ns.exclusive || !ns.regex.startsWith("@") || !suffix) continue;
    const escaped = ns.regex.slice(1, -suffix.length);
    const prefix = escaped.replace(/\\(.)/g, "$1");
    if (escapeRegex(prefix) === escaped && prefix !== "") return prefix;
  }
  return undefined;
}

export function registrationFor(
  spec: AppServiceSpec,
  serverName: string,
  url: string,
): AppServiceRegistrationLike {
  return {
    id: spec.id,
    url,
    as_token: newToken(),
    hs_token: newToken(),
    sender_localpart: spec.senderLocalpart,
    namespaces: {
      users: [
        { exclusive: true, regex: `@${escapeRegex(spec.userPrefix)}.*:${escapeRegex(serverName)}` },
      ],
      aliases: [],
      rooms: [],
    },
    rate_limited: false,
    receive_ephemeral: spec.receiveEphemeral !== false,
    "de.sorunome.msc2409.push_ephemeral": spec.receiveEphemeral !== false,
  };
}

/** A port that was free a moment ago (for a listener whose URL must be known first). */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}

/** Start the target the environment asks for. */
export async function startE2eTarget(env: NodeJS.ProcessEnv = process.env): Promise<E2eTarget> {
  const url = env.E2E_HOMESERVER_URL;
  if (!url) return inProcessTarget(await startTestHomeserver());
  const cfg: ExternalTargetConfig = {
    url: url.replace(/\/+$/, ""),
    serverName: env.E2E_SERVER_NAME ?? new URL(url).hostname,
    registrationFile: resolve(
      (env.E2E_REGISTRATION_FILE ?? ".e2e/e2e-registration.yaml").replaceAll(
        "{worker}",
        env.VITEST_POOL_ID ?? "1",
      ),
    ),
    appServiceUrl: env.E2E_APPSERVICE_URL ?? "http://127.0.0.1:29444",
  };
  if (env.E2E_REGISTRATION_SECRET) cfg.registrationSecret = env.E2E_REGISTRATION_SECRET;
  if (env.E2E_APPSERVICE_LISTEN) cfg.appServiceListen = env.E2E_APPSERVICE_LISTEN;
  if (env.E2E_HOMESERVER_RESTART) cfg.restartCommand = env.E2E_HOMESERVER_RESTART;
  return externalTarget(cfg);
}

export function inProcessTarget(hs: TestHomeserver): E2eTarget {
  return {
    kind: "in-process",
    url: hs.url,
    serverName: hs.serverName,
    homeserver: hs,
    restartHomeserver: undefined,
    registerUser: (localpart, password) => hs.registerUser(localpart, password),
    async appService(spec) {
      const port = await freePort();
      const registration = registrationFor(spec, hs.serverName, `http://127.0.0.1:${port}`);
      hs.addAppService(registration);
      return { registration, listen: { host: "127.0.0.1", port } };
    },
    close: () => hs.close(),
  };
}

export function externalTarget(cfg: ExternalTargetConfig): E2eTarget {
  const runId = Date.now().toString(36) + randomBytes(2).toString("hex");
  return {
    kind: "external",
    url: cfg.url,
    serverName: cfg.serverName,
    homeserver: undefined,
    restartHomeserver: cfg.restartCommand ? () => runRestart(cfg.restartCommand!) : undefined,
    async registerUser(localpart, password = randomBytes(12).toString("base64url")) {
      const username = `${localpart}.${runId}`;
      return cfg.registrationSecret
        ? registerWithSharedSecret(cfg.url, cfg.registrationSecret, username, password)
        : registerWithDummyAuth(cfg.url, username, password);
    },
    async appService(spec) {
      const registration = loadOrWriteRegistration(cfg, spec);
      const listen = cfg.appServiceListen ?? new URL(String(registration.url)).host;
      const m = /^(.*):(\d+)$/.exec(listen);
      if (!m)
        throw new E2eSetupError(
          "registration-mismatch",
          `E2E_APPSERVICE_LISTEN must be host:port, got ${listen}`,
        );
      return { registration, listen: { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) } };
    },
    close: async () => undefined,
  };
}

/**
 * A real homeserver reads its AS registrations at start-up, so the tests cannot install one:
 * they write it once and the operator adds it to homeserver.yaml (README.md explains). An
 * installed file is used as it is (its id, bot and namespace are what the tests use).
 */
function loadOrWriteRegistration(
  cfg: ExternalTargetConfig,
  spec: AppServiceSpec,
): AppServiceRegistrationLike {
  if (!existsSync(cfg.registrationFile)) {
    const wanted = registrationFor(spec, cfg.serverName, cfg.appServiceUrl);
    mkdirSync(dirname(cfg.registrationFile), { recursive: true });
    writeFileSync(cfg.registrationFile, yaml.dump(wanted), { mode: 0o600 });
    throw new E2eSetupError(
      "registration-not-installed",
      `Wrote the e2e application service registration to ${cfg.registrationFile}. Add it to the ` +
        `homeserver's app_service_config_files, restart the homeserver, and run the tests again.`,
    );
  }
  const loaded = yaml.load(
    readFileSync(cfg.registrationFile, "utf8"),
  ) as AppServiceRegistrationLike;
  if (
    typeof loaded?.url !== "string" ||
    typeof loaded.sender_localpart !== "string" ||
    puppetPrefixOf(loaded, cfg.serverName) === undefined
  ) {
    throw new E2eSetupError(
      "registration-mismatch",
      `${cfg.registrationFile} is not a registration the tests can use (url, sender_localpart ` +
        `and an exclusive user namespace "@<prefix>.*:${cfg.serverName}" are needed). Delete ` +
        `it, run the tests once to write a new one, install it and restart the homeserver.`,
    );
  }
  return loaded;
}

async function runRestart(command: string): Promise<void> {
  const child = spawn(command, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`homeserver restart failed (exit ${code}):\n${output}`);
}

interface RegisterResponse {
  user_id: string;
  access_token: string;
  device_id: string;
}

async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function registered(
  res: { status: number; json: Record<string, unknown> },
  password: string,
  how: string,
): E2eUser {
  if (res.status !== 200) {
    throw new E2eSetupError(
      "registration-failed",
      `${how} failed: HTTP ${res.status} ${String(res.json.errcode)} ${String(res.json.error)}`,
    );
  }
  const r = res.json as unknown as RegisterResponse;
  return { userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id, password };
}

/** Synapse's admin registration: HMAC-SHA1 over nonce, user, password and admin flag. */
export async function registerWithSharedSecret(
  baseUrl: string,
  secret: string,
  username: string,
  password: string,
): Promise<E2eUser> {
  const endpoint = `${baseUrl}/_synapse/admin/v1/register`;
  const nonceRes = await fetch(endpoint);
  if (!nonceRes.ok) {
    throw new E2eSetupError(
      "registration-failed",
      `GET ${endpoint} failed: HTTP ${nonceRes.status}`,
    );
  }
  const { nonce } = (await nonceRes.json()) as { nonce: string };
  const mac = createHmac("sha1", secret)
    .update(`${nonce}\x00${username}\x00${password}\x00notadmin`)
    .digest("hex");
  const res = await postJson(endpoint, { nonce, username, password, admin: false, mac });
  return registered(res, password, "Shared-secret registration");
}

/** Open registration (enable_registration) with the m.login.dummy stage. */
export async function registerWithDummyAuth(
  baseUrl: string,
  username: string,
  password: string,
): Promise<E2eUser> {
  const endpoint = `${baseUrl}/_matrix/client/v3/register`;
  const first = await postJson(endpoint, { username, password });
  if (first.status !== 401 || typeof first.json.session !== "string") {
    return registered(first, password, "Registration");
  }
  const res = await postJson(endpoint, {
    username,
    password,
    auth: { type: "m.login.dummy", session: first.json.session },
  });
  return registered(res, password, "Registration");
}
