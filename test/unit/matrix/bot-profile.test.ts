import { describe, expect, it } from "vitest";
import { ensureBotProfile } from "../../../src/matrix/bot-profile.js";
import type { ProfileIntent } from "../../../src/matrix/bot-profile.js";

/** Shaped as matrix-bot-sdk's MatrixError. */
function matrixError(statusCode: number, errcode: string, error: string): Error {
  return Object.assign(new Error(`${errcode}: ${error}`), {
    statusCode,
    errcode,
    error,
    body: { errcode, error },
  });
}

/** The bot's intent against a homeserver holding `profile` (undefined: Synapse's 404). */
function intentWith(profile: { displayname?: string; avatar_url?: string } | undefined) {
  const calls: string[] = [];
  const intent: ProfileIntent = {
    userId: "@gatekeeperbot:example.org",
    getProfileInfo: async () => {
      calls.push("get");
      if (profile === undefined) throw matrixError(404, "M_NOT_FOUND", "Profile was not found");
      return profile;
    },
    setDisplayName: async (name) => void calls.push(`displayname ${name}`),
    setAvatarUrl: async (url) => void calls.push(`avatar ${url}`),
    ensureRegistered: async (force) => void calls.push(`register ${force}`),
  };
  return { intent, calls };
}

const BOT = { displayName: "Gatekeeper bridge bot", avatar: "mxc://example.org/bot" };

describe("ensureBotProfile", () => {
  it("sets the profile on the first start, when the homeserver has none (404)", async () => {
    const { intent, calls } = intentWith(undefined);
    await ensureBotProfile(intent, BOT);
    expect(calls).toEqual([
      "get",
      "register true",
      "displayname Gatekeeper bridge bot",
      "avatar mxc://example.org/bot",
    ]);
  });

  it("changes nothing on a restart", async () => {
    const { intent, calls } = intentWith({
      displayname: "Gatekeeper bridge bot",
      avatar_url: "mxc://example.org/bot",
    });
    await ensureBotProfile(intent, BOT);
    expect(calls).toEqual(["get"]);
  });

  it("sets only what differs, and leaves the avatar alone when none is configured", async () => {
    const { intent, calls } = intentWith({ displayname: "gatekeeperbot", avatar_url: "mxc://x/y" });
    await ensureBotProfile(intent, { displayName: "Bot", avatar: null });
    expect(calls).toEqual(["get", "displayname Bot"]);
  });

  it("passes on other failures", async () => {
    const { intent } = intentWith({});
    intent.getProfileInfo = async () => {
      throw matrixError(403, "M_FORBIDDEN", "no");
    };
    await expect(ensureBotProfile(intent, BOT)).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
  });
});
