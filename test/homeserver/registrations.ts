/**
 * Writes the e2e application service registrations a real homeserver loads at start-up: one
 * per test worker (`e2e-registration-<n>.yaml`, n = 1..workers), each with its own id, bot,
 * puppet namespace and port, so test files can run in parallel against one homeserver and
 * never collide with a real bridge's registration (id `gatekeeper`, bot `gatekeeperbot`,
 * puppets `gk_`). Used by scripts/test-synapse.
 *
 *   node --import tsx test/homeserver/registrations.ts DIR WORKERS SERVER_NAME BASE_PORT
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { registrationFor } from "../harness/target.js";

const [dir, workers, serverName, basePort] = process.argv.slice(2);
if (!dir || !workers || !serverName || !basePort) {
  console.error("usage: registrations.ts DIR WORKERS SERVER_NAME BASE_PORT");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (let n = 1; n <= Number(workers); n++) {
  const registration = registrationFor(
    { id: `gatekeeper-e2e-${n}`, senderLocalpart: `gke2e${n}bot`, userPrefix: `gke2e${n}_` },
    serverName,
    `http://127.0.0.1:${Number(basePort) + n}`,
  );
  const file = join(dir, `e2e-registration-${n}.yaml`);
  writeFileSync(file, yaml.dump(registration), { mode: 0o600 });
  process.stdout.write(`${file}\n`);
}
