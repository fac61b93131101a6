/**
 * What GKI/1 media can carry (docs/protocol.md §8.2, §11, §15), as the core's capability data.
 */
import type { RemoteCapabilities } from "../core/network.js";
import { MAX_MEDIA_BYTES } from "../gatekeeper/client/index.js";
import { AES_BLOCK_LENGTH, MEDIA_MAC_LENGTH } from "../gatekeeper/media/index.js";

/**
 * The gatekeeper caps the blob (§15); encryption adds up to one cipher block of padding and
 * the MAC, so the largest file is that much smaller.
 */
export const GATEKEEPER_MAX_FILE_BYTES = MAX_MEDIA_BYTES - AES_BLOCK_LENGTH - MEDIA_MAC_LENGTH;

export const GATEKEEPER_MEDIA_CAPABILITIES: NonNullable<RemoteCapabilities["media"]> = {
  maxBytes: GATEKEEPER_MAX_FILE_BYTES,
  voice: true,
  captions: true,
};
