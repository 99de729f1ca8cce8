/**
 * Read-block benchmark: the FrameReader fed a byte stream in blocks of 1 B .. 64 KiB.
 * - small frames (100-byte payloads, the size of a typical IKC call): frames/s
 * - 1 MiB frames: MB/s (1 MB = 10^6 bytes)
 * - linearity: time to feed N, 2N, 4N bytes of one big pending frame in small blocks; a reader
 *   that re-concatenates its pending buffer shows ~4x / ~16x instead of ~2x / ~4x (a deliberately
 *   naive reader is timed beside it to show the check can tell the difference).
 *
 *   node_modules/.bin/deno run -A bench/frame.ts | node_modules/.bin/bun bench/frame.ts | node dist/bench/frame.js
 *
 * @module
 */
import { encodeFrame, FrameReader } from "../src/core/frame.ts";
import { ConcatReader } from "../tests/helpers/concat-reader.ts";
import {
  concat,
  fmtInt,
  fmtMean,
  fmtRate,
  fmtRatio,
  fmtTime,
  keep,
  mdTable,
  measure,
  quick,
  record,
  runtimeLabel,
} from "./common.ts";

const BLOCKS = [1, 16, 256, 4096, 65536];
const KiB = 1024;
const MiB = 1024 * 1024;

function payload(size: number, seed: number): Uint8Array {
  const p = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    p[i] = x >>> 24;
  }
  return p;
}

// One-byte chunks come from a pool of 256 arrays: a million views of one stream would time the
// garbage collector, not the reader. The reader copies split bodies, so sharing them is safe.
const POOL1 = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

/** The stream cut into `block`-byte chunks (views of it, or pooled single bytes). */
function chunksOf(stream: Uint8Array, block: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (block === 1) {
    for (let i = 0; i < stream.byteLength; i++) out.push(POOL1[stream[i]]);
    return out;
  }
  for (let i = 0; i < stream.byteLength; i += block) {
    out.push(stream.subarray(i, Math.min(i + block, stream.byteLength)));
  }
  return out;
}

/** Feeds all chunks to a fresh reader; returns the number of frames it produced. */
function feed(chunks: Uint8Array[], maxFrameSize: number): number {
  const reader = new FrameReader({ maxFrameSize });
  let frames = 0;
  for (let i = 0; i < chunks.length; i++) frames += reader.push(chunks[i]).length;
  return frames;
}

interface Case {
  name: string;
  block: number;
  frames: number;
  bytes: number;
  chunks: Uint8Array[];
}

function buildCases(kind: "small" | "large"): Case[] {
  const cases: Case[] = [];
  const smallCount = quick ? 500 : 2000;
  const smallStream = concat(Array.from({ length: smallCount }, (_, i) => encodeFrame(payload(100, i))));
  for (const block of BLOCKS) {
    let stream = smallStream;
    let frames = smallCount;
    if (kind === "large") {
      // Fewer frames when blocks are tiny, so one operation stays well under a second.
      frames = block < 256 ? 1 : quick ? 2 : 8;
      stream = concat(Array.from({ length: frames }, (_, i) => encodeFrame(payload(MiB, i))));
    }
    const chunks = chunksOf(stream, block);
    const got = feed(chunks, 64 * MiB);
    if (got !== frames) throw new Error(`frame reader returned ${got} frames, expected ${frames}`);
    cases.push({ name: `${kind} ${block}`, block, frames, bytes: stream.byteLength, chunks });
  }
  return cases;
}

function blockLabel(b: number): string {
  return b >= KiB ? `${b / KiB} KiB` : `${b} B`;
}

async function main(): Promise<void> {
  console.log(`## Frame reader — ${runtimeLabel()}\n`);
  const raw: Record<string, unknown> = {};

  // Small frames.
  const small = buildCases("small");
  const rs = await measure(small.map((c) => ({ name: c.name, fn: () => keep(feed(c.chunks, 64 * MiB)) })));
  console.log(`### Small frames (100-byte payloads, ${small[0].frames} frames per operation)\n`);
  console.log(
    mdTable(
      ["block size", "pushes/op", "time/op", "frames/s", "MB/s"],
      small.map((c) => {
        const m = rs.get(c.name)!;
        raw[c.name] = { ...m, frames: c.frames, bytes: c.bytes, block: c.block };
        return [
          blockLabel(c.block),
          fmtInt(c.chunks.length),
          fmtMean(m),
          fmtRate(c.frames * m.opsPerSec),
          fmtInt(c.bytes / m.meanMs / 1e3),
        ];
      }),
    ),
  );

  // 1 MiB frames.
  const large = buildCases("large");
  const rl = await measure(large.map((c) => ({ name: c.name, fn: () => keep(feed(c.chunks, 64 * MiB)) })));
  console.log(`\n### 1 MiB frames\n`);
  console.log(
    mdTable(
      ["block size", "frames/op", "pushes/op", "time/op", "frames/s", "MB/s"],
      large.map((c) => {
        const m = rl.get(c.name)!;
        raw[c.name] = { ...m, frames: c.frames, bytes: c.bytes, block: c.block, mbPerSec: c.bytes / m.meanMs / 1e3 };
        return [
          blockLabel(c.block),
          String(c.frames),
          fmtInt(c.chunks.length),
          fmtMean(m),
          fmtRate(c.frames * m.opsPerSec),
          fmtInt(c.bytes / m.meanMs / 1e3),
        ];
      }),
    ),
  );

  // Linearity: one frame of N+1 bytes whose header has arrived; its first N body bytes follow in
  // small blocks, so the frame stays pending to the end. (The body buffer is allocated at the
  // header, in one piece of N+1 bytes: a cost that is itself linear in N.)
  const lin: Array<{ label: string; block: number; sizes: number[]; naive?: boolean }> = [
    { label: "FrameReader, 16 B blocks", block: 16, sizes: [1 * MiB, 2 * MiB, 4 * MiB] },
    { label: "FrameReader, 1 B blocks", block: 1, sizes: [128 * KiB, 256 * KiB, 512 * KiB] },
    {
      label: "naive concat reader (reference), 16 B blocks",
      block: 16,
      sizes: [32 * KiB, 64 * KiB, 128 * KiB],
      naive: true,
    },
  ];
  const body = payload(4 * MiB, 7);
  const headers = new Map<number, Uint8Array>();
  for (const l of lin) for (const n of l.sizes) headers.set(n, new TextEncoder().encode(`${n + 1}\0`));
  const tasks = [];
  const chunkSets = new Map<string, Uint8Array[]>();
  for (const l of lin) {
    for (const n of l.sizes) {
      const name = `${l.label} ${n}`;
      chunkSets.set(name, chunksOf(body.subarray(0, n), l.block));
      const chunks = chunkSets.get(name)!;
      tasks.push({
        name,
        fn: l.naive
          ? () => {
            const r = new ConcatReader();
            let last = 0;
            for (let i = 0; i < chunks.length; i++) last = r.push(chunks[i]);
            keep(last);
          }
          : () => {
            const r = new FrameReader({ maxFrameSize: 64 * MiB });
            const headerBytes = headers.get(n)!;
            r.push(headerBytes);
            for (let i = 0; i < chunks.length; i++) r.push(chunks[i]);
            if (r.buffered !== headerBytes.byteLength + n) throw new Error("reader lost bytes");
          },
      });
    }
  }
  const rlin = await measure(tasks);
  console.log(`\n### Linearity (N, 2N, 4N bytes of one pending frame pushed in small blocks; ideal ratios 2x, 4x)\n`);
  console.log(
    mdTable(
      ["reader", "N", "t(N)", "t(2N)", "t(4N)", "t(2N)/t(N)", "t(4N)/t(N)", "ns/byte at 4N"],
      lin.map((l) => {
        const [a, b, c] = l.sizes.map((n) => rlin.get(`${l.label} ${n}`)!);
        raw[`linearity ${l.label}`] = { sizes: l.sizes, ms: [a.meanMs, b.meanMs, c.meanMs] };
        return [
          l.label,
          l.sizes[0] >= MiB ? `${l.sizes[0] / MiB} MiB` : `${l.sizes[0] / KiB} KiB`,
          fmtTime(a.meanMs),
          fmtTime(b.meanMs),
          fmtTime(c.meanMs),
          fmtRatio(b.meanMs / a.meanMs),
          fmtRatio(c.meanMs / a.meanMs),
          ((c.meanMs * 1e6) / l.sizes[2]).toFixed(2),
        ];
      }),
    ),
  );
  console.log();
  record("frame", raw);
}

await main();
