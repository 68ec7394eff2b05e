/**
 * The b1.58 paper's model of arithmetic energy (its Fig. 3 and §3): count the arithmetic operations of
 * the matrix multiplications and price each with an energy per operation. It is a model of the energy
 * of arithmetic, not a measurement: memory traffic, control and everything else a chip spends are left
 * out, which is where most of a CPU's energy goes.
 *
 * - Per token, a linear layer of n inputs and p outputs is a 1×n by n×p product. In FP16 it costs n·p
 *   multiplications and (n − 1)·p additions; with ternary weights, only the (n − 1)·p additions, in INT8
 *   (the paper's count: E_add = m·(n − 1)·p·e_add, E_mul = m·n·p·e_mul).
 * - The layers counted are the BitLinear ones: attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up and
 *   ffn_down of every block. The output head stays full precision in both models and is reported apart
 *   (priced as FP16); attention's own products (scores and the weighted sum) and the norms are left out,
 *   as in the paper.
 * - Energies per operation (pJ): the paper's 7 nm table, and Horowitz's 45 nm table (ISSCC 2014), which
 *   the paper's table follows. The paper's 71.4× is (FP16 add + FP16 mul) / INT8 add at 7 nm.
 *
 * Not here: measured energy (src/node/rapl.ts), reading the file (the caller gives tensor shapes).
 */
import { LINEAR_BLOCK_TENSORS } from "../formats/gguf/names.ts";
import { InvalidArgumentError } from "../errors.ts";

/** Energy per operation in picojoules. */
export interface EnergyTable {
  name: string;
  int8Add: number;
  int8Mul: number;
  fp16Add: number;
  fp16Mul: number;
  fp32Add: number;
  fp32Mul: number;
}

export const ENERGY_7NM: EnergyTable = { name: "7 nm (the paper's table)", int8Add: 0.007, int8Mul: 0.07, fp16Add: 0.16, fp16Mul: 0.34, fp32Add: 0.38, fp32Mul: 1.31 };
export const ENERGY_45NM: EnergyTable = { name: "45 nm (Horowitz, ISSCC 2014)", int8Add: 0.03, int8Mul: 0.2, fp16Add: 0.4, fp16Mul: 1.1, fp32Add: 0.9, fp32Mul: 3.7 };

/** (FP16 add + FP16 mul) / INT8 add: the paper's per-operation ratio (71.4× at 7 nm). */
export function perOperationRatio(t: EnergyTable): number {
  return (t.fp16Add + t.fp16Mul) / t.int8Add;
}

/** One weight matrix used once per token: n inputs, p outputs. */
export interface MatmulShape {
  name: string;
  n: number;
  p: number;
}

/** Operations per token. */
export interface OpCounts {
  adds: number;
  muls: number;
}

export function ternaryOps(shapes: readonly MatmulShape[]): OpCounts {
  return { adds: shapes.reduce((s, m) => s + (m.n - 1) * m.p, 0), muls: 0 };
}

export function fp16Ops(shapes: readonly MatmulShape[]): OpCounts {
  return { adds: shapes.reduce((s, m) => s + (m.n - 1) * m.p, 0), muls: shapes.reduce((s, m) => s + m.n * m.p, 0) };
}

/** The matrices a token goes through, from a GGUF file's tensor names and shapes ([n, p]: ne0 is the row length). */
export function modelMatmuls(tensors: readonly { name: string; shape: readonly number[] }[]): { linear: MatmulShape[]; head: MatmulShape | null } {
  const linear: MatmulShape[] = [];
  const pattern = new RegExp(`^blk\\.\\d+\\.(${LINEAR_BLOCK_TENSORS.join("|")})\\.weight$`);
  for (const t of tensors) if (pattern.test(t.name) && t.shape.length === 2) linear.push({ name: t.name, n: t.shape[0], p: t.shape[1] });
  const head = tensors.find((t) => t.name === "output.weight") ?? tensors.find((t) => t.name === "token_embd.weight");
  if (linear.length === 0) throw new InvalidArgumentError("the model has no blk.N.attn_*/ffn_* weight matrices to count");
  return { linear, head: head && head.shape.length === 2 ? { name: head.name, n: head.shape[0], p: head.shape[1] } : null };
}

export interface EnergyAtNode {
  table: EnergyTable;
  /** Picojoules per token in the linear layers: ternary (INT8 adds) and FP16 (adds + muls). */
  ternaryPj: number;
  fp16Pj: number;
  /** fp16Pj / ternaryPj. */
  ratio: number;
  /** The FP16 output head, the same in both models. */
  headPj: number;
  /** Whole-model ratio with the head added to both sides. */
  ratioWithHead: number;
}

export interface EnergyEstimate {
  linearShapes: number;
  ternaryOps: OpCounts;
  fp16Ops: OpCounts;
  headOps: OpCounts;
  nodes: EnergyAtNode[];
}

export function priceOps(ops: OpCounts, t: EnergyTable, kind: "int8" | "fp16"): number {
  return kind === "int8" ? ops.adds * t.int8Add + ops.muls * t.int8Mul : ops.adds * t.fp16Add + ops.muls * t.fp16Mul;
}

/** The paper's arithmetic energy per token of a model with these matrices, at each process node. */
export function estimateEnergy(m: { linear: readonly MatmulShape[]; head: MatmulShape | null }, tables: readonly EnergyTable[] = [ENERGY_7NM, ENERGY_45NM]): EnergyEstimate {
  const tern = ternaryOps(m.linear);
  const fp = fp16Ops(m.linear);
  const head = m.head ? fp16Ops([m.head]) : { adds: 0, muls: 0 };
  const nodes = tables.map((table) => {
    const ternaryPj = priceOps(tern, table, "int8");
    const fp16Pj = priceOps(fp, table, "fp16");
    const headPj = priceOps(head, table, "fp16");
    return { table, ternaryPj, fp16Pj, ratio: fp16Pj / ternaryPj, headPj, ratioWithHead: (fp16Pj + headPj) / (ternaryPj + headPj) };
  });
  return { linearShapes: m.linear.length, ternaryOps: tern, fp16Ops: fp, headOps: head, nodes };
}

/** LLaMA-style BitLinear shapes of a config (q, k, v, o, gate, up, down per layer), for models given by size rather than by file. */
export function llamaMatmuls(c: { dim: number; ffnDim: number; nLayers: number; nHeads: number; nKvHeads: number; vocabSize?: number }): { linear: MatmulShape[]; head: MatmulShape | null } {
  const hd = c.dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const linear: MatmulShape[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    linear.push(
      { name: `blk.${l}.attn_q.weight`, n: c.dim, p: c.dim },
      { name: `blk.${l}.attn_k.weight`, n: c.dim, p: kv },
      { name: `blk.${l}.attn_v.weight`, n: c.dim, p: kv },
      { name: `blk.${l}.attn_output.weight`, n: c.dim, p: c.dim },
      { name: `blk.${l}.ffn_gate.weight`, n: c.dim, p: c.ffnDim },
      { name: `blk.${l}.ffn_up.weight`, n: c.dim, p: c.ffnDim },
      { name: `blk.${l}.ffn_down.weight`, n: c.ffnDim, p: c.dim },
    );
  }
  return { linear, head: c.vocabSize ? { name: "output.weight", n: c.dim, p: c.vocabSize } : null };
}
