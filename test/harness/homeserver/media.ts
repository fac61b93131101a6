/** The content repository: uploaded media kept in memory. */
import { newMediaId } from "./ids.js";

export interface MediaRecord {
  mediaId: string;
  data: Buffer;
  contentType: string;
  filename?: string;
  uploader: string;
  createdTs: number;
}

export class MediaStore {
  private media = new Map<string, MediaRecord>();

  constructor(
    readonly serverName: string,
    readonly maxUploadBytes: number,
  ) {}

  put(data: Buffer, contentType: string, uploader: string, filename?: string): MediaRecord {
    const rec: MediaRecord = {
      mediaId: newMediaId(),
      data,
      contentType,
      uploader,
      createdTs: Date.now(),
    };
    if (filename !== undefined) rec.filename = filename;
    this.media.set(rec.mediaId, rec);
    return rec;
  }

  get(serverName: string, mediaId: string): MediaRecord | undefined {
    return serverName === this.serverName ? this.media.get(mediaId) : undefined;
  }

  mxc(rec: MediaRecord): string {
    return `mxc://${this.serverName}/${rec.mediaId}`;
  }
}
