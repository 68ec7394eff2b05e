/**
 * Ternary matrix × several tokens (GEMM, prefill). Each group of four rows is decoded once from its file
 * layout into plain code bytes c = w + 1 (4·K bytes of scratch, which stays in L1), then dotted with the
 * tokens two at a time: every code load serves two tokens and every activation load four rows.
 * The decoded rows are scratch only; the weights stay in the file layout.
 *
 * The reference is src/kernels/ternary-ref.ts; the float rule is ternary-scale.ts. Not here: one token
 * (ternary-gemv.ts reads the packed layout directly, which is faster when nothing is reused).
 */
import { bytes, dotAcc, hsum4 } from "./simd";
import { qhLanes, times3, trits } from "./ternary-gemv";
import {
  CHUNK, FORMAT_I2_S, FORMAT_TQ1_0, FORMAT_TQ2_0, TQ1_BLOCK_BYTES, TQ2_BLOCK_BYTES,
  addChunk, cChunks, cFormat, cGroup, cHasUniform, cK, cQ, finish, outAddress, rowAddress, rowResult,
} from "./ternary-scale";

/** Writes row r's K codes (0, 1, 2) to dst in element order. */
export function decodeRow(r: i32, dst: usize): void {
  let p = rowAddress(r);
  const m3 = bytes(3);
  if (cFormat == FORMAT_TQ2_0) {
    for (let b = 0; b < cChunks; b++) {
      for (let g: usize = 0; g < 64; g += 16) {
        const v = v128.load(p + g);
        const d = dst + ((g & 32) << 2) + (g & 16);
        v128.store(d, v128.and(v, m3));
        v128.store(d, v128.and(i16x8.shr_u(v, 2), m3), 32);
        v128.store(d, v128.and(i16x8.shr_u(v, 4), m3), 64);
        v128.store(d, v128.and(i16x8.shr_u(v, 6), m3), 96);
      }
      p += TQ2_BLOCK_BYTES;
      dst += CHUNK;
    }
  } else if (cFormat == FORMAT_I2_S) {
    const groups = cK >> 7;
    for (let b = 0; b < groups; b++) {
      for (let g: usize = 0; g < 32; g += 16) {
        const v = v128.load(p + g);
        const d = dst + g;
        v128.store(d, v128.and(i16x8.shr_u(v, 6), m3));
        v128.store(d, v128.and(i16x8.shr_u(v, 4), m3), 32);
        v128.store(d, v128.and(i16x8.shr_u(v, 2), m3), 64);
        v128.store(d, v128.and(v, m3), 96);
      }
      p += 32;
      dst += 128;
    }
  } else {
    const flip = bytes(0x80), lo = bytes(85 ^ 0x80), hi = bytes(170 ^ 0x80);
    for (let b = 0; b < cChunks; b++) {
      let t = v128.xor(v128.load(p), flip), t2 = v128.xor(v128.load(p, 16), flip);
      for (let n: usize = 0; n < 160; n += 32) {
        v128.store(dst + n, trits(t, lo, hi));
        v128.store(dst + n, trits(t2, lo, hi), 16);
        t = times3(t);
        t2 = times3(t2);
      }
      t = v128.xor(v128.load(p, 32), flip);
      for (let n: usize = 160; n < 240; n += 16) {
        v128.store(dst + n, trits(t, lo, hi));
        t = times3(t);
      }
      v128.store(dst, trits(qhLanes(p + 48, flip), lo, hi), 240);
      p += TQ1_BLOCK_BYTES;
      dst += CHUNK;
    }
  }
}

/**
 * Σ c·q over [0, len) for 4 decoded rows (at stride K from `codes`) × 2 tokens (x0, x1).
 * Stores [t0·r0, t0·r1, t0·r2, t0·r3, t1·r0, …] as i32 at `dst`.
 */
// @ts-ignore: decorator
@inline function dot4x2(codes: usize, K: usize, x0: usize, x1: usize, len: usize, dst: usize): void {
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const c1 = codes + K, c2 = c1 + K, c3 = c2 + K;
  for (let k: usize = 0; k < len; k += 16) {
    const xa = v128.load(x0 + k), xb = v128.load(x1 + k);
    let c = v128.load(codes + k);
    a0 = dotAcc(a0, xa, c); b0 = dotAcc(b0, xb, c);
    c = v128.load(c1 + k);
    a1 = dotAcc(a1, xa, c); b1 = dotAcc(b1, xb, c);
    c = v128.load(c2 + k);
    a2 = dotAcc(a2, xa, c); b2 = dotAcc(b2, xb, c);
    c = v128.load(c3 + k);
    a3 = dotAcc(a3, xa, c); b3 = dotAcc(b3, xb, c);
  }
  v128.store(dst, hsum4(a0, a1, a2, a3));
  v128.store(dst, hsum4(b0, b1, b2, b3), 16);
}

/** Scratch bytes gemmRows needs after the context: 4 decoded rows, the dot tile and the running sums. */
export function gemmWorkBytes(K: i32): usize {
  return ((<usize>K << 2) + 64 + 63) & ~63;
}

/** out[0..T, r0..r1) with rows decoded into `work` (gemmWorkBytes(K) bytes, 16-aligned). */
export function gemmRows(T: i32, r0: i32, r1: i32, work: usize): void {
  const K = <usize>cK;
  const codes = work;
  const tile = codes + (K << 2); // i32[8]
  const ys = tile + 32; // f32[8], running per-chunk sums
  const perRow = cHasUniform && cGroup == cK;
  for (let r = r0; r < r1; r += 4) {
    for (let j = 0; j < 4; j++) decodeRow(min(r + j, r1 - 1), codes + <usize>j * K);
    for (let t = 0; t < T; t += 2) {
      const t1 = min(t + 1, T - 1);
      const x0 = cQ + <usize>t * K, x1 = cQ + <usize>t1 * K;
      if (perRow) {
        dot4x2(codes, K, x0, x1, K, tile);
        for (let j = 0; j < 4; j++) {
          store<f32>(ys + (<usize>j << 2), rowResult(load<i32>(tile + (<usize>j << 2)), t));
          store<f32>(ys + (<usize>(4 + j) << 2), rowResult(load<i32>(tile + (<usize>(4 + j) << 2)), t1));
        }
      } else {
        v128.store(ys, f32x4.splat(0));
        v128.store(ys, f32x4.splat(0), 16);
        for (let c = 0; c < cChunks; c++) {
          const off = <usize>c * CHUNK;
          dot4x2(codes + off, K, x0 + off, x1 + off, CHUNK, tile);
          for (let j = 0; j < 4; j++) {
            const rj = min(r + j, r1 - 1);
            const a = ys + (<usize>j << 2), b = ys + (<usize>(4 + j) << 2);
            store<f32>(a, addChunk(load<f32>(a), load<i32>(tile + (<usize>j << 2)), t, rj, c));
            store<f32>(b, addChunk(load<f32>(b), load<i32>(tile + (<usize>(4 + j) << 2)), t1, rj, c));
          }
        }
        for (let j = 0; j < 8; j++) store<f32>(ys + (<usize>j << 2), finish(load<f32>(ys + (<usize>j << 2))));
      }
      for (let j = 0; j < 4 && r + j < r1; j++) {
        store<f32>(outAddress(t, r + j), load<f32>(ys + (<usize>j << 2)));
        if (t1 != t) store<f32>(outAddress(t1, r + j), load<f32>(ys + (<usize>(4 + j) << 2)));
      }
    }
  }
}
