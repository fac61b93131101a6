/**
 * Every bot command as a Matrix user meets it, error paths included: the answers say what
 * was wrong and how to write it. Login through the bot (login, verify), the chat commands,
 * prefixes in other rooms, and a user the config does not allow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForMembership } from "../../harness/matrix-user.js";
import { BridgeWorld, COMMAND_PREFIX } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

describe("bot commands and their error paths", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let mallory: MatrixActor;
  let bob: NativeActor;
  let mgmt: string;
  let alicePhone: string;

  beforeAll(async () => {
    w = await BridgeWorld.create("commands");
    // Mallory's id is known only once registered (a real homeserver adds a run suffix).
    mallory = await w.matrixUser("mallory");
    await w.startBridge({
      permissions: { [w.target.serverName]: "user", [mallory.userId]: "none" },
    });
    alice = await w.matrixUser("alice");
    bob = await w.nativeUser("Bob");
    alicePhone = w.newPhone();
    mgmt = await alice.openManagementRoom();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  const ask = (text: string): Promise<string> => alice.command(mgmt, text);

  it("greets in the management room and lists every command with `help`", async () => {
    const greeting = await alice.waitForNotice(mgmt, (b) => b.includes("management room"));
    expect(greeting.getContent().body).toContain("Start with `login <your phone number>`");
    const help = await ask("help");
    expect(help).toContain("here no prefix is needed");
    for (const usage of [
      "login <phone>",
      "verify <code>",
      "logout",
      "status [@user:server]",
      "start <phone>",
      "contacts",
      "block <phone>",
      "unblock <phone>",
      "accept",
      "ping",
    ]) {
      expect(help).toContain(`\`${usage}\``);
    }
    // Command names are case-insensitive, and a lone prefix is help too.
    expect(await ask("HELP")).toBe(help);
    expect(await ask(COMMAND_PREFIX)).toBe(help);
  });

  it("answers before login: status, ping and the commands that need a login", async () => {
    expect(await ask("status")).toBe("You are not logged in. Send `login <phone>` to start.");
    expect(await ask("ping")).toBe("Pong: the bridge is running, you are not logged in.");
    const notLoggedIn =
      "You are not logged in to Gatekeeper. Send `login <your phone number>` first.";
    expect(await ask(`start ${bob.phone}`)).toBe(notLoggedIn);
    expect(await ask("contacts")).toBe(notLoggedIn);
    expect(await ask(`block ${bob.phone}`)).toBe(notLoggedIn);
    expect(await ask("verify 123456")).toContain("You have no login in progress");
    expect(await ask("logout")).toBe("You are not logged in.");
  });

  it("refuses `login` without a number or with a malformed one, saying how to write it", async () => {
    expect(await ask("login")).toBe(
      "`login` needs your phone number, in international format: `login +49 151 12345678`.",
    );
    const local = await ask("login 0151 1234567");
    expect(local).toContain("That number did not work");
    expect(local).toContain("has no country code");
    expect(local).toContain("`login +49 151 12345678`");
    expect(await ask("login +49 call me")).toContain('"+49 call me" is not a phone number');
    expect(await ask("login +49 151")).toContain("too short");
    // None of these started a login.
    expect(await ask("status")).toContain("You are not logged in");
  });

  it("tells the user when the gatekeeper refuses the number, and nothing is left behind", async () => {
    // The sandbox, like the gatekeeper, takes only numbers from the EEA.
    const swiss = await ask("login +41 44 668 18 00");
    expect(swiss).toBe(
      "Could not start the login: Gatekeeper refused this number (it is banned, or not from a country in the EEA).",
    );
    expect(await ask("status")).toContain("You are not logged in");
  });

  it("checks `verify` codes: missing, malformed, wrong, then right", async () => {
    const asked = await ask(`login ${alicePhone.replace(/^\+49/, "+49 ")}`);
    expect(asked).toMatch(
      new RegExp(
        `^Gatekeeper sent a 6-digit code to \\${alicePhone} .*Send \`verify <code>\` here\\.$`,
      ),
    );
    expect(await ask("status")).toBe(
      `Waiting for the code sent to ${alicePhone}: send \`verify <code>\`.`,
    );
    // Asking again at once: the gatekeeper sends one code a minute, and the first still works.
    expect(await ask(`login ${alicePhone}`)).toBe(
      "Could not start the login: a code was requested less than a minute ago; wait a moment " +
        "before asking again (try again in 1 minute(s)).",
    );
    expect(await ask(`start ${bob.phone}`)).toContain("Your login is not finished");

    expect(await ask("verify")).toBe(
      "`verify` needs the code sent to your phone, e.g. `verify 123456`.",
    );
    expect(await ask("verify twelve")).toContain("The code is the digits sent to your phone");
    const code = await w.codeFor(alicePhone);
    const wrong = code === "000000" ? "111111" : "000000";
    expect(await ask(`verify ${wrong}`)).toBe(
      "Could not verify the code: that code is wrong; check it and send `verify <code>` again.",
    );
    // Typed with a space in the middle, as people copy codes.
    expect(await ask(`verify ${code.slice(0, 3)} ${code.slice(3)}`)).toBe(
      `You are logged in to Gatekeeper as ${alicePhone}. Send \`start <phone>\` to chat with someone there.`,
    );
    expect(await ask(`verify ${code}`)).toBe(`You are already logged in as ${alicePhone}.`);
    expect(await ask(`login ${w.newPhone()}`)).toContain(
      `You are already logged in as ${alicePhone}`,
    );
  });

  it("answers status, ping and contacts once logged in", async () => {
    expect(await ask("status")).toBe(
      [
        `Logged in to Gatekeeper as ${alicePhone}.`,
        "Connection: connected.",
        "Chats: 0, message requests: 0, blocked: 0.",
      ].join("\n"),
    );
    expect(await ask("ping")).toBe(
      "Pong: the bridge is running, your Gatekeeper connection is connected.",
    );
    expect(await ask("contacts")).toBe("You have no chats yet. Send `start <phone>` to open one.");
    expect(await ask("contacts please")).toBe(
      "`contacts` takes no arguments: send just `contacts`.",
    );
  });

  it("refuses `start` with bad, unknown, not opted-in and own numbers alike clearly", async () => {
    expect(await ask("start")).toContain(
      "`start` needs the phone number of the person to chat with, in international format",
    );
    expect(await ask("start 555-1234")).toContain("That number did not work");

    const unknown = w.newPhone();
    const unknownReply = await ask(`start ${unknown}`);
    expect(unknownReply).toBe(
      `${unknown} cannot be reached on Gatekeeper: the number is not registered there, or its ` +
        "owner does not accept chats from other apps (Gatekeeper does not say which).",
    );
    // A user who did not opt in must look exactly like one who does not exist.
    const shy = await w.nativeUser("Shy", { optIn: false });
    const shyReply = await ask(`start ${shy.phone}`);
    expect(shyReply.replace(shy.phone, "<n>")).toBe(unknownReply.replace(unknown, "<n>"));

    expect(await ask(`start ${alicePhone}`)).toBe(`${alicePhone} is your own number.`);
  });

  it("starts a chat and counts it in status and contacts", async () => {
    const reply = await ask(`start ${bob.phone}`);
    expect(reply).toMatch(
      new RegExp(
        `^Started a chat with Bob \\(\\${bob.phone}\\); you have been invited: https://matrix\\.to/#/`,
      ),
    );
    const again = await ask(`start ${bob.phone}`);
    expect(again).toContain("Invited you to your chat with Bob");
    expect(await ask("status")).toContain("Chats: 1, message requests: 0, blocked: 0.");
    const contacts = await ask("contacts");
    expect(contacts).toMatch(/^Your chats:\n- Bob: https:\/\/matrix\.to\/#\/\S+$/);
  });

  it("refuses `block` / `unblock` without or with a bad number", async () => {
    for (const cmd of ["block", "unblock"]) {
      expect(await ask(cmd)).toBe(
        `\`${cmd}\` needs the phone number of the person (or send it in their chat without one), ` +
          `in international format: \`${cmd} +49 151 12345678\`.`,
      );
      expect(await ask(`${cmd} bob`)).toBe(
        `That number did not work: "bob" is not a phone number. Write it in international ` +
          `format, e.g. \`${cmd} +49 151 12345678\`.`,
      );
      expect(await ask(`${cmd} ${alicePhone}`)).toBe(`${alicePhone} is your own number.`);
      expect(await ask(`${cmd} ${w.newPhone()}`)).toContain("cannot be reached on Gatekeeper");
    }
    // None of that blocked anyone.
    expect(await ask("status")).toContain("blocked: 0.");
  });

  it("answers an unknown command with where to find the list", async () => {
    expect(await ask("frobnicate now")).toBe(
      "I do not know the command `frobnicate`. Send `help` for the list.",
    );
  });

  it("takes commands with the prefix in other rooms, and leaves other talk alone", async () => {
    const { room_id: room } = await alice.client.createRoom({
      invite: [w.botMxid, mallory.userId],
      name: "friends",
    });
    await alice.waitForNotice(room, (b) => b === "Hello! Send `!gk help` to see what I can do.");

    // Without the prefix it is conversation, not a command: no answer.
    const plain = await alice.say(room, "ping");
    const pong = await alice.command(room, `${COMMAND_PREFIX} ping`);
    expect(pong).toBe("Pong: the bridge is running, your Gatekeeper connection is connected.");
    expect(alice.noticesAfter(room, plain)).toEqual([pong]);

    expect(await alice.command(room, `${COMMAND_PREFIX} help`)).toContain(
      `start each with \`${COMMAND_PREFIX}\``,
    );
    expect(await alice.command(room, `${COMMAND_PREFIX} frobnicate`)).toBe(
      `I do not know the command \`frobnicate\`. Send \`${COMMAND_PREFIX} help\` for the list.`,
    );
    // "!gkping" is not "!gk ping".
    const glued = await alice.say(room, `${COMMAND_PREFIX}ping`);
    const status = await alice.command(room, `${COMMAND_PREFIX} status`);
    expect(status).toContain(`Logged in to Gatekeeper as ${alicePhone}.`);
    expect(alice.noticesAfter(room, glued)).toEqual([status]);

    // The prefix works in the management room too.
    expect(await ask(`${COMMAND_PREFIX} ping`)).toBe(pong);

    // Mallory is in the room but not allowed by the config: a polite refusal.
    await mallory.acceptInvite(room);
    const refused = await mallory.command(room, `${COMMAND_PREFIX} login +49 151 98765432`);
    expect(refused).toBe(
      "Sorry, you are not allowed to use this bridge. If you think you should be, please ask " +
        "the administrator of your homeserver.",
    );
  });

  it("refuses a user the config does not allow when they open a DM, and leaves", async () => {
    const { room_id: dm } = await mallory.client.createRoom({
      is_direct: true,
      invite: [w.botMxid],
      preset: "trusted_private_chat" as never,
    });
    const refusal = await mallory.waitForNotice(dm, (b) => b.startsWith("Sorry"));
    expect(refusal.getContent().body).toContain("you are not allowed to use this bridge");
    await waitForMembership(mallory.client, dm, w.botMxid, "leave", 15_000);
  });
});
