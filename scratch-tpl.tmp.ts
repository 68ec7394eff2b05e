import { renderChat } from "./src/generate/chat-template.ts";
const msgs = [{ role: "user" as const, content: "hi" }];
const cases: Record<string, string> = {
  range: "{% for i in range(100000000) %}x{% endfor %}",
  nested: "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
  doubling: "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
  recursion: "{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}",
  replace: "{% set ns = namespace(s='x') %}{% for i in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s.replace('', ns.s) }}",
  replaceFilter: "{% set ns = namespace(s='x') %}{% for i in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | replace('x', ns.s) }}",
  indent: "{{ 'a\\nb' | indent(500000000) }}",
  filterStmt: "{% filter indent(500000000) %}a\nb{% endfilter %}",
  join: "{% set ns = namespace(s='x') %}{% for i in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ range(60000) | join(ns.s) }}",
  tojsonShared: "{% set ns = namespace(s='x', a=[]) %}{% for i in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% for i in range(3000) %}{% set ns.a = ns.a + [ns.s] %}{% endfor %}{{ ns.a | tojson }}",
  nestList: "{% set ns = namespace(a=[]) %}{% for i in range(3000) %}{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a | tojson(indent=100) }}",
  syntax: "{% for m in %}",
  undefinedMethod: "{{ messages.foo() }}",
  raise: "{{ raise_exception('bad\\nrole ' * 1) }}",
  ok: "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}{{ strftime_now('%d %b %Y') }}",
};
for (const [name, t] of Object.entries(cases)) {
  const t0 = performance.now();
  const before = process.memoryUsage().rss;
  try {
    const out = renderChat(msgs, { template: t, source: "m.gguf: tokenizer.chat_template" });
    console.log(name, "OK", out.length, JSON.stringify(out.slice(0, 60)));
  } catch (e) {
    console.log(name, (e as Error).name, (e as Error).message.slice(0, 200));
  }
  console.log("   ", (performance.now() - t0).toFixed(0), "ms rss+", ((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0), "MB");
}
