// The merge loop llama.cpp's SPM and BPE sessions share: a word is a row of adjacent symbols in a doubly linked
// list; the best adjacent pair that may merge (lowest priority, ties: leftmost) is merged, its new neighbours are
// queued, and so on until no pair is left. What "may merge" and "best" mean (a vocabulary token and its score, or
// a merge rule and its rank) is the caller's; bpe.ts and spm.ts supply them.

import { MinHeap } from "./heap.ts";

interface Bigram {
  left: number;
  right: number;
  priority: number;
  /** Lengths of both sides when queued. A symbol only grows (by absorbing its right neighbour) or dies (length 0),
   * and while both sides live nothing else can come between them, so equal lengths mean the pair is unchanged. */
  leftLen: number;
  rightLen: number;
}

const before = (a: Bigram, b: Bigram): boolean => a.priority < b.priority || (a.priority === b.priority && a.left < b.left);

/**
 * Merge the symbols of one word in place. `len[i]` is symbol i's length (symbols are contiguous, each at least 1
 * long); `priorityOf(left, right)` is the priority of merging two adjacent live symbols as they are now (read
 * their lengths from `len`), or undefined when they may not merge. On return, merged-away symbols have length 0
 * and the survivors, from symbol 0, are linked by the returned `next` array (-1 ends the list).
 */
export function mergeSymbols(len: Int32Array, priorityOf: (left: number, right: number) => number | undefined): Int32Array {
  const count = len.length;
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  const queue = new MinHeap<Bigram>(before);
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const priority = priorityOf(left, right);
    if (priority === undefined) return;
    queue.push({ left, right, priority, leftLen: len[left], rightLen: len[right] });
  };
  for (let i = 1; i < count; i++) tryAdd(i - 1, i);

  for (let bigram = queue.pop(); bigram !== undefined; bigram = queue.pop()) {
    const { left, right } = bigram;
    if (len[left] !== bigram.leftLen || len[right] !== bigram.rightLen) continue;
    len[left] += len[right];
    len[right] = 0;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    tryAdd(prev[left], left);
    tryAdd(left, next[left]);
  }
  return next;
}
