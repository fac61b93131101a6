import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHomeserver } from "../../harness/homeserver/index.js";
import type { AppServiceRegistrationLike, TestHomeserver } from "../../harness/homeserver/index.js";
import { E2eSetupError, puppetPrefixOf, startE2eTarget } from "../../harness/target.js";
import type { E2eTarget } from "../../harness/target.js";

async function whoami(
  url: string,
  token: string,
  userId?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const q = userId ? `?user_id=${encodeURIComponent(userId)}` : "";
  const res = await fetch(`${url}/_matrix/client/v3/account/whoami${q}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const spec = { id: "gatekeeper-e2e", senderLocalpart: "gatekeeperbot", userPrefix: "gk_" };

describe("e2e target: in-process by default", () => {
  it("registers users and installs the AS registration in the test homeserver", async () => {
    const target = await startE2eTarget({});
    try {
      expect(target.kind).toBe("in-process");
      const user = await target.registerUser("alice");
      expect(user.userId).toBe("@alice:localhost");
      expect((await whoami(target.url, user.accessToken)).body.user_id).toBe(user.userId);
      const as = await target.appService(spec);
      expect(as.registration.url).toBe(`http://127.0.0.1:${as.listen.port}`);
      expect(as.registration.namespaces?.users).toEqual([
        { exclusive: true, regex: "@gk_.*:localhost" },
      ]);
      expect((await whoami(target.url, as.registration.as_token)).body.user_id).toBe(
        "@gatekeeperbot:localhost",
      );
    } finally {
      await target.close();
    }
  });
});

describe("e2e target: a real homeserver (emulated with Synapse's shared-secret registration)", () => {
  const secret = "s3cret-for-tests";
  let hs: TestHomeserver;
  let dir: string;

  beforeAll(async () => {
    hs = await startTestHomeserver({
      serverName: "example.test",
      registrationSharedSecret: secret,
    });
    dir = mkdtempSync(join(tmpdir(), "e2e-target-"));
  });
  afterAll(async () => {
    await hs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    E2E_HOMESERVER_URL: hs.url,
    E2E_SERVER_NAME: "example.test",
    E2E_REGISTRATION_FILE: join(dir, "e2e-registration.yaml"),
    E2E_APPSERVICE_URL: "http://127.0.0.1:29444",
    ...extra,
  });

  it("registers with the HMAC-SHA1 shared secret and a per-run localpart", async () => {
    const target: E2eTarget = await startE2eTarget(env({ E2E_REGISTRATION_SECRET: secret }));
    expect(target.kind).toBe("external");
    expect(target.homeserver).toBeUndefined();
    const a = await target.registerUser("alice");
    // Accounts outlive runs on a real homeserver: the next run's "alice" is another account.
    const nextRun = await startE2eTarget(env({ E2E_REGISTRATION_SECRET: secret }));
    const b = await nextRun.registerUser("alice");
    expect(a.userId).toMatch(/^@alice\.[a-z0-9]+:example\.test$/);
    expect(b.userId).not.toBe(a.userId);
    expect((await whoami(hs.url, a.accessToken)).body).toMatchObject({
      user_id: a.userId,
      device_id: a.deviceId,
    });

    const wrong = await startE2eTarget(env({ E2E_REGISTRATION_SECRET: "not-the-secret" }));
    await expect(wrong.registerUser("mallory")).rejects.toMatchObject({
      code: "registration-failed",
      message: /403 M_FORBIDDEN/,
    });
  });

  it("falls back to open registration with m.login.dummy without a secret", async () => {
    const target = await startE2eTarget(env());
    const u = await target.registerUser("bob");
    expect((await whoami(hs.url, u.accessToken)).body.user_id).toBe(u.userId);
  });

  it("writes the AS registration once, then uses the installed one", async () => {
    const target = await startE2eTarget(env({ E2E_REGISTRATION_SECRET: secret }));
    const first = await target.appService(spec).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(E2eSetupError);
    expect(first).toMatchObject({ code: "registration-not-installed" });
    const written = yaml.load(
      readFileSync(join(dir, "e2e-registration.yaml"), "utf8"),
    ) as AppServiceRegistrationLike;
    expect(written).toMatchObject({
      id: "gatekeeper-e2e",
      url: "http://127.0.0.1:29444",
      sender_localpart: "gatekeeperbot",
      namespaces: { users: [{ exclusive: true, regex: "@gk_.*:example\\.test" }] },
    });

    // What the operator does: install the file and restart the homeserver.
    hs.addAppService(written);
    const as = await target.appService(spec);
    expect(as.registration.as_token).toBe(written.as_token);
    expect(as.listen).toEqual({ host: "127.0.0.1", port: 29444 });
    const puppet = await whoami(hs.url, as.registration.as_token);
    expect(puppet.body.user_id).toBe("@gatekeeperbot:example.test");

    // The installed file wins over the spec (its id, bot and namespace are used as they are)...
    const other = await target.appService({ ...spec, userPrefix: "other_" });
    expect(other.registration.namespaces?.users).toEqual(written.namespaces?.users);
    expect(puppetPrefixOf(other.registration, "example.test")).toBe("gk_");

    // ...as long as it is one the tests can use.
    writeFileSync(
      join(dir, "e2e-registration.yaml"),
      yaml.dump({ ...written, namespaces: { users: [{ exclusive: true, regex: "@.*" }] } }),
    );
    await expect(target.appService(spec)).rejects.toMatchObject({
      code: "registration-mismatch",
    });
  });

  it("picks the registration of its test worker ({worker} in E2E_REGISTRATION_FILE)", async () => {
    const file = (n: number): string => join(dir, `reg-${n}.yaml`);
    for (const n of [1, 2]) {
      writeFileSync(
        file(n),
        yaml.dump({
          id: `e2e-${n}`,
          url: `http://127.0.0.1:${29450 + n}`,
          as_token: `as${n}`,
          hs_token: `hs${n}`,
          sender_localpart: `bot${n}`,
          namespaces: { users: [{ exclusive: true, regex: `@p${n}_.*:example\\.test` }] },
        }),
      );
    }
    const target = await startE2eTarget(
      env({ E2E_REGISTRATION_FILE: join(dir, "reg-{worker}.yaml"), VITEST_POOL_ID: "2" }),
    );
    const as = await target.appService(spec);
    expect(as.registration.id).toBe("e2e-2");
    expect(as.listen).toEqual({ host: "127.0.0.1", port: 29452 });
    expect(puppetPrefixOf(as.registration, "example.test")).toBe("p2_");
  });
});
