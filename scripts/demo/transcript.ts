/**
 * The demo's output: a readable transcript, one line per thing that happened, with the time,
 * where it happened (which Matrix room, which phone or app) and who said what. Multi-line
 * texts continue indented under their first line.
 */

export type Out = (line: string) => void;

const WHERE_WIDTH = 21;
const WHO_WIDTH = 18; // wide enough for a puppet such as "Carol (Gatekeeper)"

/** Local wall-clock time with milliseconds, e.g. 14:03:07.412. */
export function clock(at: Date = new Date()): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  return (
    `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.` +
    String(at.getMilliseconds()).padStart(3, "0")
  );
}

/** Breaks `line` at spaces so that no piece is longer than `width` (long words stay whole). */
export function wrap(line: string, width: number): string[] {
  if (width <= 0 || line.length <= width) return [line];
  const pieces: string[] = [];
  let current = "";
  for (const word of line.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > width) {
      pieces.push(current);
      current = word;
    } else {
      current = current === "" ? word : `${current} ${word}`;
    }
  }
  pieces.push(current);
  return pieces;
}

export class Transcript {
  /** @param width wrap long texts to this many columns (0: never, e.g. when piped). */
  constructor(
    private readonly out: Out,
    private readonly width = 0,
  ) {}

  /** A heading between parts of the demo. */
  section(title: string): void {
    this.out("");
    this.out(title);
  }

  /** Free text under a heading (set-up details, instructions). */
  note(text: string): void {
    for (const line of text.split("\n")) this.out(`  ${line}`);
  }

  /** One event of the conversation. `extra` lines (e.g. the HTML of a message) follow it. */
  say(where: string, who: string, text: string, extra: string[] = [], at = new Date()): void {
    const head = `${clock(at)}  ${where.padEnd(WHERE_WIDTH)} ${who.padEnd(WHO_WIDTH)} `;
    const indent = " ".repeat(head.length);
    const room = this.width > 0 ? Math.max(30, this.width - head.length) : 0;
    const lines = [text, ...extra]
      .flatMap((part) => part.split("\n"))
      .flatMap((line) => wrap(line, room));
    lines.forEach((line, i) => this.out((i === 0 ? head : indent) + line));
  }

  /** What the demo does next, as a stage direction. */
  step(text: string, at = new Date()): void {
    this.out(`${clock(at)}  -- ${text}`);
  }

  raw(line: string): void {
    this.out(line);
  }
}
