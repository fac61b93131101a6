/**
 * `npx tsx bench/media-memory.ts [--mb 100]`: peak memory of the bridge while it relays one
 * large file, each way. Not a timed test: it prints what the bridge process used.
 *
 * The bridge runs as the admin runs it (src/cli.ts) in a child process with a memory probe
 * preloaded (bench/memory-probe.ts); the test homeserver, the sandbox gatekeeper, the Matrix
 * user and the native user live in this process, so their buffers (the in-memory content
 * repository, the proxy's hash check, the native app's in-memory decryption) do not count.
 * Each direction gets a fresh bridge process, so each peak is its own.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { AUTH_PATH } from "../src/connector/index.js";
import { Logger } from "../src/matrix/appservice-bridge.js";
import { startSandbox } from "../src/sandbox/index.js";
import { startTestHomeserver } from "../test/harness/homeserver/index.js";
import { inProcessTarget } from "../test/harness/target.js";
import { MatrixActor } from "../test/e2e/bridge/matrix-actor.js";
import { NativeActor } from "../test/e2e/bridge/native-actor.js";
import {
  matrixDownload,
  matrixUpload,
  mediaOf,
  nativeFetch,
  nativeSendMedia,
} from "../test/e2e/bridge-media/media-world.js";

Logger.configure({ console: "off" });

const { values } = parseArgs({ options: { mb: { type: "string", default: "100" } } });
const FILE_BYTES = Math.round(Number(values.mb) * 1_000_000);
const ROOT = join(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const PARTNER = "matrix";
const SECRET = "bench-partner-secret-0123456789";

interface Probe {
  peak: {
    rss: number;
    heapUsed: number;
    heapTotal: number;
    external: number;
    arrayBuffers: number;
  };
  now: NodeJS.MemoryUsage;
  maxRss: number;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, "close");
  return port;
}

const dir = mkdtempSync(join(tmpdir(), "gkb-media-bench-"));
const hs = await startTestHomeserver({ maxUploadBytes: 256 * MiB });
const target = inProcessTarget(hs);
const { registration, listen } = await target.appService({
  id: "gatekeeper",
  senderLocalpart: "gatekeeperbot",
  userPrefix: "gk_",
});
const partnerPort = await freePort();
const sandbox = await startSandbox({
  partners: [
    {
      id: PARTNER,
      authUrl: `http://127.0.0.1:${partnerPort}${AUTH_PATH}`,
      secret: SECRET,
      mediaOrigin: `http://127.0.0.1:${partnerPort}`,
    },
  ],
  limits: { mediaProxyTimeoutMs: 300_000 },
});

const configFile = join(dir, "config.yaml");
const registrationFile = join(dir, "registration.yaml");
writeFileSync(
  configFile,
  yaml.dump({
    homeserver: { url: target.url, domain: target.serverName },
    appservice: {
      port: listen.port,
      bind_address: listen.host,
      bot: { localpart: "gatekeeperbot" },
    },
    gatekeeper: {
      url: sandbox.url,
      static_key: sandbox.publicKeyBase64,
      partner_id: PARTNER,
      partner_secret: SECRET,
      public_base_url: `http://127.0.0.1:${partnerPort}`,
      listen: { port: partnerPort, bind_address: "127.0.0.1" },
    },
    database: { type: "sqlite", filename: join(dir, "bridge.sqlite") },
    bridge: {
      permissions: { [target.serverName]: "user" },
      media: { directory: join(dir, "media"), max_size_mb: { file: 100 } },
    },
    logging: { level: "info", format: "json" },
  }),
);
writeFileSync(registrationFile, yaml.dump(registration), { mode: 0o600 });

let child: ChildProcess | undefined;
const probeFile = join(dir, "memprobe.json");

async function startBridge(): Promise<void> {
  rmSync(probeFile, { force: true });
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      join(ROOT, "bench/memory-probe.ts"),
      "--disable-warning=DEP0060",
      join(ROOT, "src/cli.ts"),
      "-c",
      configFile,
      "-f",
      registrationFile,
      "-p",
      String(listen.port),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, MEMPROBE_FILE: probeFile },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child = proc;
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start:\n${log}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (/bridge started/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`bridge exited (${code}):\n${log}`)));
  });
  // Keep the pipes drained (the log is not needed any more).
  proc.stdout?.resume();
  proc.stderr?.resume();
}

async function stopBridge(): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child!.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function probe(): Probe {
  return JSON.parse(readFileSync(probeFile, "utf8")) as Probe;
}

/**
 * The kernel's peak RSS of the bridge (VmHWM), reset before each transfer (writing 5 to
 * clear_refs), so start-up (loading and compiling the sources) does not count.
 */
function resetPeakRss(): void {
  writeFileSync(`/proc/${child!.pid}/clear_refs`, "5");
  child!.kill("SIGUSR2");
}

function peakRss(): number {
  const status = readFileSync(`/proc/${child!.pid}/status`, "utf8");
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

const rows: {
  direction: string;
  baseline: Probe["now"];
  peakRss: number;
  after: Probe;
  ok: boolean;
  seconds: number;
}[] = [];

try {
  await startBridge();
  const identity = {
    botMxid: `@gatekeeperbot:${target.serverName}`,
    isPuppet: (u: string) => u.startsWith("@gk_"),
  };
  const alice = await MatrixActor.start(target.url, await target.registerUser("alice"), identity);
  const bobPhone = "+4915199990011";
  const alicePhone = "+4915199990012";
  const bob = await NativeActor.create(sandbox, {
    phone: bobPhone,
    name: "Bob",
    optIn: [PARTNER],
    dir,
  });
  const mgmt = await alice.openManagementRoom();
  await alice.login(mgmt, alicePhone, async (p) => (await sandbox.admin.latestCode(p)).code);
  const portal = await alice.startChat(mgmt, bobPhone);
  const aliceJid = (await bob.lookup(alicePhone))!;

  // ---- Matrix → gatekeeper
  const outgoing = randomBytes(FILE_BYTES);
  const url = await matrixUpload(alice, outgoing, "application/octet-stream", "big.bin");
  await new Promise((r) => setTimeout(r, 300));
  const baselineOut = probe().now;
  resetPeakRss();
  let started = Date.now();
  const before = bob.received.length;
  await alice.send(portal, {
    msgtype: "m.file",
    body: "big.bin",
    url,
    info: { mimetype: "application/octet-stream", size: outgoing.length },
  });
  const received = await bob.waitFor((m) => bob.received.indexOf(m) >= before, "the file", 600_000);
  const fetched = await nativeFetch(bob, mediaOf(received));
  const outSeconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  rows.push({
    direction: "Matrix → gatekeeper",
    baseline: baselineOut,
    peakRss: peakRss(),
    after: probe(),
    ok: sha(fetched) === sha(outgoing),
    seconds: outSeconds,
  });

  // ---- gatekeeper → Matrix, on a fresh bridge process
  await stopBridge();
  await startBridge();
  await new Promise((r) => setTimeout(r, 1_000));
  const incoming = randomBytes(FILE_BYTES);
  const baselineIn = probe().now;
  resetPeakRss();
  started = Date.now();
  await nativeSendMedia(bob, aliceJid, "document", incoming, {
    mimetype: "application/octet-stream",
    options: { fileName: "back.bin" },
  });
  const event = await alice.waitForMessage(
    portal,
    (e) => e.getContent().body === "back.bin",
    600_000,
  );
  const inSeconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  const after = probe();
  const peakIn = peakRss();
  const downloaded = await matrixDownload(target.url, alice, String(event.getContent().url));
  rows.push({
    direction: "gatekeeper → Matrix",
    baseline: baselineIn,
    peakRss: peakIn,
    after,
    ok: sha(downloaded) === sha(incoming),
    seconds: inSeconds,
  });

  alice.stop();
  await bob.close();
} finally {
  await stopBridge();
  await sandbox.close();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nBridge process memory while relaying one ${(FILE_BYTES / 1e6).toFixed(0)} MB file\n`,
);
console.log(
  "direction            | byte-exact | before: RSS / heapUsed / arrayBuffers | peak RSS (kernel) | peak heapUsed | peak external | peak arrayBuffers | time",
);
for (const r of rows) {
  console.log(
    [
      r.direction.padEnd(20),
      String(r.ok).padEnd(10),
      `${mib(r.baseline.rss)} / ${mib(r.baseline.heapUsed)} / ${mib(r.baseline.arrayBuffers)}`.padEnd(
        37,
      ),
      mib(r.peakRss).padEnd(17),
      mib(r.after.peak.heapUsed).padEnd(13),
      mib(r.after.peak.external).padEnd(13),
      mib(r.after.peak.arrayBuffers).padEnd(17),
      `${r.seconds.toFixed(1)} s`,
    ].join(" | "),
  );
}
if (rows.some((r) => !r.ok)) process.exitCode = 1;
