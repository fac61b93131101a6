/**
 * What every portal says about end-to-end encryption (docs/protocol.md §16: partners must
 * tell their users that the bridge decrypts). One wording for the topic and the first notice.
 */

/** The portal topic; `contactName` when known. */
export function portalTopic(networkName: string, contactName?: string): string {
  const chat = contactName ? `Chat with ${contactName} on ${networkName}` : `${networkName} chat`;
  return (
    `${chat}, bridged. End-to-end encryption ends at the bridge: messages are encrypted ` +
    `between the ${networkName} app and this bridge, which decrypts them to bring them here.`
  );
}

/** The first notice in a new portal. */
export function encryptionNotice(networkName: string): string {
  return (
    `This chat is bridged from ${networkName}. End-to-end encryption ends at the bridge: ` +
    `messages are encrypted only between your contact's ${networkName} app and this bridge, ` +
    `which decrypts them to bring them to Matrix (and encrypts yours for ${networkName}). ` +
    `Whoever runs the bridge could read them.`
  );
}
