import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildLookupQuery,
  encodeStanza,
  parseLookupResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  type PartnerAuthServer,
  enlistedPartnerUser,
  sandboxWithPartner,
  startPartnerAuth,
} from "./helpers.js";
import type { RawClient } from "./raw-client.js";

describe("sandbox directory lookup (docs/protocol.md §12.1)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;
  let partner: RawClient;

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth, { limits: { lookupContactsPerHour: 8 } });
    await sandbox.admin.addUser({ phone: "+4917030000001", name: "Opted In" });
    await sandbox.admin.updateSettings("+4917030000001", { enabled: true, partners: ["matrix"] });
    await sandbox.admin.addUser({ phone: "+4917030000002", name: "Not Opted In" });
    await sandbox.admin.addUser({ phone: "+4917030000003", name: "Other Partner Only" });
    await sandbox.admin.updateSettings("+4917030000003", {
      enabled: true,
      partners: ["elsewhere"],
    });
    partner = await enlistedPartnerUser(sandbox, auth, "dir-1", "+4915130000001");
  });
  afterAll(async () => {
    partner.close();
    await sandbox.close();
    await auth.close();
  });

  it("finds an opted-in user; not opted in, other partner only and nonexistent all look the same", async () => {
    const users = await sandbox.admin.listUsers();
    const optedIn = users.find((u) => u.phone === "+4917030000001");
    const result = await partner.iq(
      "usync",
      "get",
      buildLookupQuery(["+4917030000001", "+4917030000002", "+4917030000003", "+4917030000009"]),
    );
    expect(result.type).toBe("result");
    expect(parseLookupResult(result.children)).toEqual([
      { contact: "+4917030000001", jid: optedIn?.jid, name: "Opted In" },
      { contact: "+4917030000002" },
      { contact: "+4917030000003" },
      { contact: "+4917030000009" },
    ]);
    // Byte-identical entries: nothing tells a non-consenting user from a number that does not exist.
    const [, notOptedIn, otherPartner, nonexistent] = (result.children[0]?.children ?? []).map(
      (u) =>
        Buffer.from(
          encodeStanza({
            kind: "iq",
            id: "x",
            type: "result",
            children: [{ ...u, attrs: { ...u.attrs, contact: "" } }],
          }),
        ).toString(),
    );
    expect(notOptedIn).toBe(nonexistent);
    expect(otherPartner).toBe(nonexistent);
  });

  it("limits contacts per account and hour with 429 and retry-after", async () => {
    // 4 were used above; 4 more fit, the next batch does not.
    expect(
      (
        await partner.iq(
          "usync",
          "get",
          buildLookupQuery([
            "+4917030000011",
            "+4917030000012",
            "+4917030000013",
            "+4917030000014",
          ]),
        )
      ).type,
    ).toBe("result");
    const limited = await partner.iq("usync", "get", buildLookupQuery(["+4917030000015"]));
    expect(limited).toMatchObject({ type: "error", error: { code: 429 } });
    expect(limited.error?.retryAfter).toBeGreaterThan(0);
    expect(limited.error?.retryAfter).toBeLessThanOrEqual(3600);
  });
});
