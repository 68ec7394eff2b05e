/**
 * A chat template from a file is code from a stranger. Templates that loop for ever, recurse, or build
 * strings, lists or JSON far larger than the conversation must stop with one ChatTemplateError line
 * naming the file and `tokenizer.chat_template`, quickly and without the memory to match; templates that
 * are merely broken (a syntax error, an undefined method, raise_exception) get the same kind of line.
 * Real templates over long conversations still render.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ChatTemplateError } from "../../src/errors.ts";
import { TokenizerKey } from "../../src/formats/gguf/names.ts";
import { renderChat, type ChatMessage } from "../../src/generate/chat-template.ts";
import { loadBytes, modelBytes, setMeta, TINY_SPEC } from "../helpers/model-bytes.ts";

const SOURCE = "hostile.gguf: tokenizer.chat_template";
const MESSAGES: ChatMessage[] = [{ role: "user", content: "hi" }];

/** A template that doubles a string `n` times into ns.s (2^n characters). */
const doubled = (n: number, then: string) => `{% set ns = namespace(s='x', a=[]) %}{% for i in range(${n}) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}${then}`;

const HOSTILE: Record<string, [template: string, why: RegExp]> = {
  "range(100000000)": ["{% for i in range(100000000) %}x{% endfor %}", /range\(0, 100000000, 1\) would have more than \d+ items/],
  "three nested loops of 1000": ["{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}", /more than \d+ steps|ran longer than \d+ ms/], // the step limit, or on a very busy machine the clock
  "a string doubled 40 times": [doubled(40, "{{ ns.s }}"), /a string would have more than \d+ characters/],
  "unbounded macro recursion": ["{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", /nested more than \d+ evaluations deep/],
  "replace('', s) on 512K characters": [doubled(19, "{{ ns.s.replace('', ns.s) }}"), /replace's result would have more than/],
  "| replace('x', s)": [doubled(19, "{{ ns.s | replace('x', ns.s) }}"), /replace's result would have more than/],
  "| indent(500000000)": ["{{ 'a\\nb' | indent(500000000) }}", /indent's result would have more than/],
  "{% filter indent(500000000) %}": ["{% filter indent(500000000) %}a\nb{% endfilter %}", /indent's result would have more than/],
  "| join(s) over 60000 items": [doubled(19, "{{ range(60000) | join(ns.s) }}"), /join's result would have more than/],
  "tojson of 3000 references to one 512K string": [
    doubled(19, "{% for i in range(3000) %}{% set ns.a = ns.a + [ns.s] %}{% endfor %}{{ ns.a | tojson }}"),
    /a list or mapping would print as more than \d+ characters/,
  ],
  "tojson(indent=100) of a list nested 3000 deep": [
    "{% set ns = namespace(a=[]) %}{% for i in range(3000) %}{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a | tojson(indent=100) }}",
    /(nest|tojson's result (would|could) have).* more than/,
  ],
};

describe("chat templates under limits", () => {
  for (const [name, [template, why]] of Object.entries(HOSTILE)) {
    it(`stops ${name}`, () => {
      const t0 = performance.now();
      assert.throws(
        () => renderChat(MESSAGES, { template, source: SOURCE }),
        (e: unknown) => {
          assert.ok(e instanceof ChatTemplateError, String(e));
          assert.ok(e.message.startsWith(`${SOURCE}: rendering stopped: `), e.message);
          assert.match(e.message, why);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
      const ms = performance.now() - t0;
      assert.ok(ms < 15_000, `took ${ms.toFixed(0)} ms`); // about 1 s on an idle machine for the slowest; generous for a shared one
    });
  }

  it("a broken template is one line naming the source", () => {
    const cases: [string, RegExp][] = [
      ["{% for m in %}", /: cannot parse it: /],
      ["{{ messages.foo() }}", /: rendering failed: /],
      ["{{ raise_exception('roles must\nalternate') }}", /: rendering failed: roles must\\u000aalternate$/],
      ["{{ raise_exception('" + "z".repeat(10_000) + "') }}", /: rendering failed: z+…$/],
      ["{{ " + "(".repeat(20_000) + "1" + ")".repeat(20_000) + " }}", /: (cannot parse it|rendering stopped|rendering failed): /],
    ];
    for (const [template, re] of cases) {
      assert.throws(
        () => renderChat(MESSAGES, { template, source: SOURCE }),
        (e: unknown) => e instanceof ChatTemplateError && e.message.startsWith(SOURCE) && re.test(e.message) && !e.message.includes("\n") && e.message.length < 400,
      );
    }
  });

  it("real templates still render long conversations, and limits scale with the conversation", () => {
    const chatml =
      "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content | trim + '<|im_end|>\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}{{ messages | tojson(indent=2) | length > 0 }}";
    const long: ChatMessage[] = [];
    for (let i = 0; i < 3000; i++) long.push({ role: i % 2 ? "assistant" : "user", content: `message ${i} ${"lorem ipsum ".repeat(50)}` });
    const out = renderChat(long, { template: chatml });
    assert.ok(out.length > 3000 * 600, String(out.length));
    // One message of 3 MB is more than the fixed 1 MiB allowance, and it still renders.
    const big = "y".repeat(3_000_000);
    assert.equal(renderChat([{ role: "user", content: big }], { template: "{{ messages[0].content }}" }).length, big.length);
    // Explicit limits apply.
    assert.throws(() => renderChat(MESSAGES, { template: "{% for i in range(10) %}{% endfor %}", limits: { maxItems: 5 } }), /range\(0, 10, 1\) would have more than 5 items/);
  });
});

describe("model.chat() with a hostile tokenizer.chat_template", () => {
  it("throws a ChatTemplateError naming the model file, and the model still works", async () => {
    const bytes = await modelBytes(TINY_SPEC, { metadata: setMeta(TokenizerKey.chatTemplate, "{% for i in range(100000000) %}x{% endfor %}") });
    const model = await loadBytes(bytes, "hostile.gguf");
    try {
      await assert.rejects(
        async () => {
          for await (const _ of model.chat([{ role: "user", content: "hi" }], { maxTokens: 2 })) void _;
        },
        (e: unknown) => e instanceof ChatTemplateError && e.message.startsWith("hostile.gguf: tokenizer.chat_template: rendering stopped: "),
      );
      assert.equal(model.logits([1, 5, 9]).length, TINY_SPEC.vocabSize);
    } finally {
      await model.dispose();
    }
  });
});
