/**
 * Renders a parsed Jinja template (@huggingface/jinja) under limits, because a chat template read from a
 * model file is code from a stranger: `{% for i in range(100000000) %}` alone used to take the whole
 * process down. Rendering is synchronous and must also run in a browser without a Worker, so it cannot
 * be interrupted from outside; instead the interpreter checks a budget as it goes:
 *
 *   steps      every node it evaluates counts one, every loop iteration and every item a filter goes
 *              through too; past `maxSteps` it stops (loops, recursion, busy work)
 *   depth      nested evaluations (macro recursion, deeply nested expressions) stop at `maxDepth`
 *   time       the clock is read every 1024 steps; past `maxMillis` it stops (a backstop for the above)
 *   size       every string a node yields has at most `maxChars` characters, every list or mapping at most
 *              `maxItems` entries and a printed size (strings with every repetition counted) of at most
 *              `maxChars`, and all strings yielded together at most `maxTotalChars`
 *
 * Size is checked after a node yields its value, which is enough only if no single built-in can make a
 * value far larger than its inputs. The few that can are checked before they run: `range` (its length),
 * `indent` (lines × width), `replace` (matches × replacement), `join` (items × separator) and `tojson`
 * with `indent` (depth × indent per item). Everything else a template can do grows a value by at most the
 * size of its inputs per step, so memory stays within a small multiple of `maxTotalChars`.
 *
 * Not here: choosing the template or the limits (chat-template.ts does), or the error class callers see.
 */
import { Environment, Interpreter } from "@huggingface/jinja";

// The package's declarations import their own files without extensions, which this project's module
// resolution cannot follow; these are the few shapes used here, as the library defines them.
/** An AST node (Statement). */
interface Node {
  type: string;
}
/** A runtime value (AnyRuntimeValue): `type` is its class name. */
interface Value {
  type: string;
  value: unknown;
}
interface Env {
  set(name: string, value: unknown): unknown;
}
interface InterpreterLike {
  evaluate(statement: Node | undefined, environment: Env): Value;
  run(program: Node): Value;
}
const InterpreterBase = Interpreter as unknown as new (env: Env) => InterpreterLike;
const EnvironmentClass = Environment as unknown as new () => Env;

export interface TemplateLimits {
  /** Nodes evaluated. */
  maxSteps: number;
  /** Nested evaluations. */
  maxDepth: number;
  /** Characters of any one string, and printed size of any one list or mapping. */
  maxChars: number;
  /** Characters of all strings produced, together. */
  maxTotalChars: number;
  /** Entries of any one list or mapping (including `range`). */
  maxItems: number;
  /** Wall-clock time. */
  maxMillis: number;
}

/** A template went past one of its limits; the message says which. */
export class TemplateLimitError extends Error {}

/** A node standing for a value already evaluated (see `guarded`): the library evaluates it to that value. */
const VALUE_NODE = "BitNetEvaluatedValue";
interface ValueNode {
  type: typeof VALUE_NODE;
  value: Value;
}
const valueNode = (value: Value): Node => ({ type: VALUE_NODE, value }) as ValueNode as unknown as Node;

interface Sized {
  /** Printed size: characters of strings plus one per entry, with every repetition counted. */
  size: number;
  /** Nesting depth of lists and mappings. */
  depth: number;
}

const isContainer = (v: Value): boolean => ["ArrayValue", "TupleValue", "ObjectValue", "KeywordArgumentsValue", "NamespaceValue"].includes(v.type);
const entries = (v: Value): Value[] => (Array.isArray(v.value) ? (v.value as Value[]) : [...(v.value as Map<string, Value>).values()]);
const keyChars = (v: Value): number => (v.value instanceof Map ? [...(v.value as Map<string, Value>).keys()].reduce((n, k) => n + k.length, 0) : 0);

class Budget {
  private steps = 0;
  private depth = 0;
  private total = 0;
  private readonly started = Date.now();
  /** Sizes of lists and mappings already measured; namespaces change in place, so they are measured afresh. */
  private readonly sizes = new WeakMap<object, Sized>();
  /** The first limit hit; kept, so that a library `catch` cannot swallow it and carry on. */
  private exceeded: TemplateLimitError | undefined;

  readonly limits: TemplateLimits;

  constructor(limits: TemplateLimits) {
    this.limits = limits;
  }

  fail(message: string): never {
    this.exceeded ??= new TemplateLimitError(message);
    throw this.exceeded;
  }

  enter(): void {
    if (this.exceeded) throw this.exceeded;
    if (++this.steps > this.limits.maxSteps) this.fail(`it evaluated more than ${this.limits.maxSteps} steps`);
    if (++this.depth > this.limits.maxDepth) this.fail(`it nested more than ${this.limits.maxDepth} evaluations deep`);
    if ((this.steps & 1023) === 0 && Date.now() - this.started > this.limits.maxMillis) this.fail(`it ran longer than ${this.limits.maxMillis} ms`);
  }

  leave(): void {
    this.depth--;
  }

  /** Work the library does natively per item (a loop's iterations, a filter's pass over a list), as steps. */
  charge(items: number): void {
    this.steps += items;
    if (this.steps > this.limits.maxSteps) this.fail(`it evaluated more than ${this.limits.maxSteps} steps`);
  }

  /** Checks a value a node yielded. */
  account(v: Value): void {
    if (v.type === "StringValue") {
      const n = (v.value as string).length;
      this.chars(n, "a string");
      this.total += n;
      if (this.total > this.limits.maxTotalChars) this.fail(`its strings came to more than ${this.limits.maxTotalChars} characters`);
    } else if (isContainer(v)) {
      this.sized(v);
    }
  }

  chars(n: number, what: string): void {
    if (n > this.limits.maxChars) this.fail(`${what} would have more than ${this.limits.maxChars} characters`);
  }

  /** For a result whose size is only bounded loosely: the allowance of all strings together. */
  transient(n: number, what: string): void {
    if (n > this.limits.maxTotalChars) this.fail(`${what} could have more than ${this.limits.maxTotalChars} characters`);
  }

  items(n: number, what: string): void {
    if (n > this.limits.maxItems) this.fail(`${what} would have more than ${this.limits.maxItems} items`);
  }

  /** The printed size and depth of a value, measured without recursion and refused past `maxChars`. */
  sized(v: Value): Sized {
    if (!isContainer(v)) return { size: v.type === "StringValue" ? (v.value as string).length : 8, depth: 0 };
    const known = v.type === "NamespaceValue" ? undefined : this.sizes.get(v);
    if (known) return known;
    const own = entries(v);
    this.items(own.length, "a list or mapping");
    // Children already measured count at their recorded size; the rest are walked, with every repetition.
    let size = 2 + own.length + keyChars(v);
    let depth = 1;
    const stack: { value: Value; depth: number }[] = own.map((value) => ({ value, depth: 1 }));
    while (stack.length > 0) {
      const { value, depth: d } = stack.pop() as { value: Value; depth: number };
      const child = isContainer(value) && value.type !== "NamespaceValue" ? this.sizes.get(value) : undefined;
      if (child) {
        size += child.size;
        depth = Math.max(depth, d + child.depth);
      } else if (isContainer(value)) {
        const inner = entries(value);
        size += 2 + inner.length + keyChars(value);
        depth = Math.max(depth, d + 1);
        if (d + 1 > this.limits.maxDepth) this.fail(`a list or mapping would nest more than ${this.limits.maxDepth} levels deep`);
        for (const x of inner) stack.push({ value: x, depth: d + 1 });
      } else {
        size += value.type === "StringValue" ? (value.value as string).length : 8;
      }
      if (size > this.limits.maxChars) this.fail(`a list or mapping would print as more than ${this.limits.maxChars} characters`);
    }
    const result = { size, depth };
    if (v.type !== "NamespaceValue") this.sizes.set(v, result);
    return result;
  }
}

/** Filters and string methods that can make a value much larger than their inputs, checked before they run. */
const AMPLIFIERS = new Set(["indent", "replace", "join", "tojson"]);

class BoundedInterpreter extends InterpreterBase {
  private readonly budget: Budget;

  constructor(env: Env, budget: Budget) {
    super(env);
    this.budget = budget;
  }

  override evaluate(statement: Node | undefined, environment: Env): Value {
    if (statement?.type === VALUE_NODE) return (statement as unknown as ValueNode).value;
    if (statement?.type === "FilterStatement") {
      // `{% filter f %}body{% endfilter %}` is `(body) | f`: rewritten so that the guards below see it.
      const { filter, body } = statement as unknown as { filter: unknown; body: unknown };
      return this.evaluate({ type: "FilterExpression", operand: { type: "Program", body }, filter } as unknown as Node, environment);
    }
    this.budget.enter();
    try {
      const guarded = statement ? this.guarded(statement, environment) : undefined;
      const v = super.evaluate(guarded ?? statement, environment);
      this.budget.account(v);
      return v;
    } finally {
      this.budget.leave();
    }
  }

  /**
   * For a loop, its iterable; for a filter, its operand; for `x | indent(…)`, `x | replace(…)`,
   * `x.replace(…)`, `x | join(…)` and `x | tojson(indent=…)` also the arguments: evaluated once, here,
   * charged and checked, and handed on in a copy of the node that holds the values (so the library does
   * not evaluate them again). Undefined for every other node.
   */
  private guarded(node: Node, env: Env): Node | undefined {
    if (node.type === "For") {
      // The iterable, evaluated here (in the enclosing scope, as the loop's own scope is still empty), charged one step per item.
      const loop = node as unknown as { iterable: Node & { lhs?: Node } };
      const select = loop.iterable.type === "SelectExpression";
      const iterable = this.evaluate(select ? (loop.iterable.lhs as Node) : loop.iterable, env);
      if (isContainer(iterable)) this.budget.charge(entries(iterable).length);
      const replaced = select ? { ...loop.iterable, lhs: valueNode(iterable) } : valueNode(iterable);
      return { ...node, iterable: replaced } as unknown as Node;
    }
    if (node.type === "FilterExpression") {
      const f = node as unknown as { operand: Node; filter: { type: string; value?: string; callee?: { type: string; value?: string }; args?: Node[] } };
      const call = f.filter.type === "CallExpression" ? f.filter : undefined;
      const name = call ? (call.callee?.type === "Identifier" ? call.callee.value : undefined) : f.filter.value;
      const operand = this.evaluate(f.operand, env);
      if (isContainer(operand)) this.budget.charge(entries(operand).length);
      if (name === undefined || !AMPLIFIERS.has(name) || (name === "tojson" && !call)) {
        // Not an amplifier (tojson without indent prints the value's measured size).
        return { ...node, operand: valueNode(operand) } as unknown as Node;
      }
      const args = call ? this.evaluateArgs(call.args ?? [], env) : { nodes: [], positional: [], keyword: new Map<string, Value>() };
      this.check(name, operand, args.positional, args.keyword);
      return { ...node, operand: valueNode(operand), filter: call ? { ...call, args: args.nodes } : f.filter } as unknown as Node;
    }
    if (node.type === "CallExpression") {
      const c = node as unknown as { callee: { type: string; computed?: boolean; object: Node; property: { type: string; value?: string } }; args: Node[] };
      const m = c.callee;
      if (m.type !== "MemberExpression" || m.computed || m.property.type !== "Identifier" || m.property.value !== "replace") return undefined;
      const object = this.evaluate(m.object, env);
      const args = this.evaluateArgs(c.args, env);
      if (object.type === "StringValue") this.check("replace", object, args.positional, args.keyword);
      return { ...node, callee: { ...m, object: valueNode(object) }, args: args.nodes } as unknown as Node;
    }
    return undefined;
  }

  /** Arguments in the library's order (positional, then keyword), as values and as value nodes. */
  private evaluateArgs(args: Node[], env: Env): { nodes: Node[]; positional: Value[]; keyword: Map<string, Value> } {
    const nodes = [...args];
    const positional: Value[] = [];
    const keyword = new Map<string, Value>();
    args.forEach((a, i) => {
      if (a.type === "KeywordArgumentExpression" || a.type === "KeywordSpreadExpression") return;
      if (a.type === "SpreadExpression") {
        const v = this.evaluate((a as unknown as { argument: Node }).argument, env);
        nodes[i] = { ...a, argument: valueNode(v) } as unknown as Node;
        if (Array.isArray(v.value)) positional.push(...(v.value as Value[]));
        return;
      }
      const v = this.evaluate(a, env);
      nodes[i] = valueNode(v);
      positional.push(v);
    });
    args.forEach((a, i) => {
      if (a.type === "KeywordArgumentExpression") {
        const k = a as unknown as { key: { value: string }; value: Node };
        const v = this.evaluate(k.value, env);
        nodes[i] = { ...a, value: valueNode(v) } as unknown as Node;
        keyword.set(k.key.value, v);
      } else if (a.type === "KeywordSpreadExpression") {
        const v = this.evaluate((a as unknown as { argument: Node }).argument, env);
        nodes[i] = { ...a, argument: valueNode(v) } as unknown as Node;
        if (v.value instanceof Map) for (const [key, x] of v.value as Map<string, Value>) keyword.set(key, x);
      }
    });
    return { nodes, positional, keyword };
  }

  /** Refuses the call when its result could be larger than `maxChars`. */
  private check(name: string, operand: Value, positional: Value[], keyword: Map<string, Value>): void {
    const b = this.budget;
    const int = (v: Value | undefined): number | undefined => (v?.type === "IntegerValue" ? (v.value as number) : undefined);
    const str = (v: Value | undefined): string | undefined => (v?.type === "StringValue" ? (v.value as string) : undefined);
    const text = str(operand);
    if (name === "indent" && text !== undefined) {
      const width = int(positional[0] ?? keyword.get("width")) ?? 4;
      let lines = 1;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
      b.chars(text.length + lines * Math.max(0, width), "indent's result");
    } else if (name === "replace" && text !== undefined) {
      const old = str(positional[0]);
      const by = str(positional[1]);
      if (old === undefined || by === undefined) return;
      const limit = int(positional[2] ?? keyword.get("count"));
      let matches = old.length === 0 ? text.length + 1 : 0;
      if (old.length > 0) for (let i = text.indexOf(old); i >= 0; i = text.indexOf(old, i + old.length)) matches++;
      if (limit !== undefined && limit >= 0) matches = Math.min(matches, limit);
      b.chars(text.length + matches * Math.max(0, by.length - old.length), "replace's result");
    } else if (name === "join") {
      const sep = str(positional[0] ?? keyword.get("d")) ?? "";
      const n = text !== undefined ? text.length : isContainer(operand) ? entries(operand).length : 0;
      b.chars(b.sized(operand).size + n * sep.length, "join's result");
    } else if (name === "tojson") {
      const indent = int(keyword.get("indent")) ?? 0;
      const { size, depth } = b.sized(operand);
      // Escapes can make a string up to 6 times longer; each entry starts a line indented by its depth.
      b.transient(size * 6 + size * (depth + 1) * Math.max(0, indent), "tojson's result");
    }
  }
}

/** The globals @huggingface/jinja's own render sets up, with `range` bounded. */
function globals(env: Env, budget: Budget): void {
  env.set("false", false);
  env.set("true", true);
  env.set("none", null);
  env.set("False", false);
  env.set("True", true);
  env.set("None", null);
  env.set("raise_exception", (message: unknown) => {
    throw new Error(String(message));
  });
  env.set("range", (start: unknown, stop?: unknown, step: unknown = 1) => {
    const [a, b] = stop === undefined ? [0, start] : [start, stop];
    if (typeof a !== "number" || typeof b !== "number" || typeof step !== "number") throw new Error("range() arguments must be numbers");
    if (step === 0) throw new Error("range() step must not be zero");
    const n = Math.max(0, Math.ceil((b - a) / step));
    budget.items(n, `range(${a}, ${b}, ${step})`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(a + i * step);
    return out;
  });
  env.set("strftime_now", (format: unknown) => strftimeNow(String(format)));
}

/** Python's strftime for the fields chat templates use (%d %m %Y %b %B %H %M %%), in the C locale's English. */
function strftimeNow(format: string): string {
  const now = new Date();
  const two = (n: number) => String(n).padStart(2, "0");
  const month = (style: "short" | "long") => now.toLocaleString("en-US", { month: style });
  const fields: Record<string, () => string> = {
    d: () => two(now.getDate()),
    m: () => two(now.getMonth() + 1),
    Y: () => String(now.getFullYear()),
    b: () => month("short"),
    B: () => month("long"),
    H: () => two(now.getHours()),
    M: () => two(now.getMinutes()),
    "%": () => "%",
  };
  return format.replace(/%(.)/g, (whole, c: string) => (Object.hasOwn(fields, c) ? fields[c]() : whole));
}

/** Renders `program` with `items` as variables; throws TemplateLimitError past a limit, and whatever the template throws. */
export function renderBounded(program: unknown, items: Record<string, unknown>, limits: TemplateLimits): string {
  const budget = new Budget(limits);
  const env = new EnvironmentClass();
  globals(env, budget);
  for (const [k, v] of Object.entries(items)) env.set(k, v);
  const out = new BoundedInterpreter(env, budget).run(program as Node);
  return String(out.value);
}
