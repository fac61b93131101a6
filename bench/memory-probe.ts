/**
 * Preloaded into the bridge process by bench/media-memory.ts (`--import`): samples
 * process.memoryUsage() every 20 ms and writes the peaks (heap, external, array buffers) to
 * the JSON file named by MEMPROBE_FILE. SIGUSR2 resets the peaks. (The peak RSS the bench
 * reports is the kernel's VmHWM, which does not depend on sampling.)
 */
import { writeFileSync } from "node:fs";

const file = process.env.MEMPROBE_FILE;
if (file) {
  const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  const sample = (): void => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
    const maxRss = process.resourceUsage().maxRSS * 1024;
    writeFileSync(file, JSON.stringify({ peak, now: m, maxRss }));
  };
  // SIGUSR2: start counting peaks afresh (the bench sends it right before a transfer).
  process.on("SIGUSR2", () => {
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = 0;
    sample();
  });
  sample();
  setInterval(sample, 20).unref();
}
