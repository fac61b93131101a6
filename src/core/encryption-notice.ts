/**
 * What every portal says about end-to-end encryption (docs/protocol.md §16: partners must
 * tell their users that the bridge decrypts). One wording for the topic and the first notice.
 */

/**
 * The portal topic. `contactName` when known, cleaned by the caller; `contactRef` (their
 * number, or their puppet's Matrix id) says which contact it is, so two contacts with one
 * name never get the same topic.
 */
export function portalTopic(
  networkName: string,
  contactName?: string,
  contactRef?: string,
): string {
  const who =
    contactName && contactRef ? `${contactName} (${contactRef})` : contactName || contactRef;
  const chat = who ? `Chat with ${who} on ${networkName}` : `${networkName} chat`;
  return (
    `${chat}, bridged. End-to-end encryption ends at the bridge: messages are encrypted ` +
    `between the ${networkName} app and this bridge, which decrypts them to bring them here.`
  );
}

/** The first notice in a new portal (`apps`: whose app the messages come from). */
export function encryptionNotice(networkName: string, apps = "your contact's"): string {
  return (
    `This chat is bridged from ${networkName}. End-to-end encryption ends at the bridge: ` +
    `messages are encrypted only between ${apps} ${networkName} app and this bridge, ` +
    `which decrypts them to bring them to Matrix (and encrypts yours for ${networkName}). ` +
    `Whoever runs the bridge could read them.`
  );
}
