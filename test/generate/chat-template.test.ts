// renderChat: the built-in BitNet b1.58 2B4T format (exact strings, and agreement with a Jinja
// transcription of the model repo's template), Jinja templates, errors, and BOS handling.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Template } from "@huggingface/jinja";
import { BITNET_2B4T_BOS, chooseChatTemplate, renderChat, splitLeadingBos, type ChatMessage } from "../../src/generate/chat-template.ts";

const CONVERSATION: ChatMessage[] = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "What is 2+2?" },
  { role: "assistant", content: "4" },
];

test("built-in 2B4T format on a 3-message conversation", () => {
  assert.equal(
    renderChat(CONVERSATION),
    "<|begin_of_text|>System: You are a helpful assistant.<|eot_id|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>Assistant: ",
  );
  assert.equal(
    renderChat(CONVERSATION, { addGenerationPrompt: false }),
    "<|begin_of_text|>System: You are a helpful assistant.<|eot_id|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>",
  );
});

test("built-in format trims content, has no newline between turns, and can drop BOS", () => {
  const out = renderChat([{ role: "user", content: "  hi there \n" }], { bosToken: "" });
  assert.equal(out, "User: hi there<|eot_id|>Assistant: ");
  assert.equal(renderChat([]), "<|begin_of_text|>Assistant: ");
  assert.ok(!renderChat(CONVERSATION).includes("\n"));
});

// The model repo's tokenizer_config.json template, transcribed for this test: capitalized role,
// ": ", trimmed content and <|eot_id|> per message, BOS before the first, "Assistant: " to prompt.
const HF_STYLE_2B4T =
  "{% for message in messages %}{% set content = message['role'] | capitalize + ': ' + message['content'] | trim + '<|eot_id|>' %}" +
  "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";

test("built-in format equals the Jinja transcription of the 2B4T template", () => {
  const conversations: ChatMessage[][] = [
    CONVERSATION,
    [{ role: "user", content: "one" }],
    [
      { role: "user", content: "\tmulti\nline\n\n" },
      { role: "assistant", content: " sure " },
      { role: "user", content: "again" },
    ],
  ];
  const reference = new Template(HF_STYLE_2B4T);
  for (const messages of conversations) {
    for (const add of [true, false]) {
      const expected = reference.render({ messages, bos_token: BITNET_2B4T_BOS, eos_token: "<|end_of_text|>", add_generation_prompt: add });
      assert.equal(renderChat(messages, { addGenerationPrompt: add }), expected);
      // The same template given explicitly goes through Jinja and agrees too.
      assert.equal(renderChat(messages, { template: HF_STYLE_2B4T, bosToken: BITNET_2B4T_BOS, addGenerationPrompt: add }), expected);
    }
  }
});

const CHATML =
  "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% else %}{{ eos_token }}{% endif %}";

test("a Jinja (ChatML-like) template renders with messages, bos/eos and add_generation_prompt", () => {
  const messages: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi" },
  ];
  assert.equal(
    renderChat(messages, { template: CHATML, bosToken: "<s>", eosToken: "</s>" }),
    "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  );
  assert.equal(
    renderChat(messages, { template: CHATML, bosToken: "<s>", eosToken: "</s>", addGenerationPrompt: false }),
    "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n</s>",
  );
  // Without bosToken a template's {{ bos_token }} renders as nothing.
  assert.ok(renderChat(messages, { template: CHATML }).startsWith("<|im_start|>system"));
});

test("template errors give a clear message", () => {
  const messages: ChatMessage[] = [{ role: "user", content: "x" }];
  assert.throws(() => renderChat(messages, { template: "{% for m in %}" }), /^ChatTemplateError: chat template: cannot parse it: /);
  assert.throws(() => renderChat(messages, { template: "{% if true %}never closed" }), /chat template: cannot parse it/);
  assert.throws(
    () => renderChat(messages, { template: "{{ raise_exception('Conversation roles must alternate') }}" }),
    /chat template: rendering failed: Conversation roles must alternate/,
  );
  assert.throws(() => renderChat(messages, { template: "   " }), /chat template: the template is empty/);
});

test("bad messages are rejected with the index at fault", () => {
  const bad = [{ role: "user", content: "ok" }, { role: "tool", content: "x" }] as unknown as ChatMessage[];
  assert.throws(() => renderChat(bad), /messages\[1\]\.role must be one of system, user, assistant/);
  const noContent = [{ role: "user" }] as unknown as ChatMessage[];
  assert.throws(() => renderChat(noContent, { template: CHATML }), /messages\[0\]\.content must be a string/);
});

test("splitLeadingBos tells the tokenizer whether the template already wrote BOS", () => {
  assert.deepEqual(splitLeadingBos(renderChat(CONVERSATION), BITNET_2B4T_BOS), {
    text: "System: You are a helpful assistant.<|eot_id|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>Assistant: ",
    hadBos: true,
  });
  assert.deepEqual(splitLeadingBos("User: hi", BITNET_2B4T_BOS), { text: "User: hi", hadBos: false });
  assert.deepEqual(splitLeadingBos("<s>x", undefined), { text: "<s>x", hadBos: false });
  assert.deepEqual(splitLeadingBos("<s>x", ""), { text: "<s>x", hadBos: false });
});

test("chooseChatTemplate keeps real templates and drops bitnet.cpp's converter placeholder", () => {
  // The shape of the template utils/convert-ms-to-gguf-bitnet.py writes into its GGUFs.
  const placeholder =
    "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if message['role'] == 'user' %}" +
    "{{ 'Human: ' + message['content'] + '\\n\\nBITNETAssistant: ' + eos_token }}{% elif message['role'] == 'assistant' %}" +
    "{{ message['content'] + eos_token }}{% endif %}{% endfor %}";
  assert.equal(chooseChatTemplate(placeholder), undefined);
  assert.equal(chooseChatTemplate(undefined), undefined);
  assert.equal(chooseChatTemplate(""), undefined);
  assert.equal(chooseChatTemplate(CHATML), CHATML);
});
