"""Writes the tiny Hugging Face checkpoints in test/fixtures/hf/ and transformers' own outputs for them.

Dev-only, run by hand (see README.md here), never by npm test or CI. Needs torch, transformers, tokenizers,
safetensors, sentencepiece, protobuf and accelerate (run.sh installs them into a virtual environment).

Each fixture directory is a checkpoint in one layout bitnet-ts reads, with random weights (fixed seed) and a
tokenizer trained here on a few sentences, plus reference.json: for each prompt, the token ids transformers'
tokenizer gives, transformers' logits at a few positions, and 8 greedy tokens.

The reference forward runs in float64 (`dtype=torch.float64`). transformers still quantizes weights and
activations exactly as it does in float32 (AutoBitLinear's WeightQuant and ActQuant cast to float32 first), but
its matmuls, norms and attention then carry no float32 rounding, which in a float32 run moves an activation across
an int8 rounding boundary often enough to shift some logits by ~0.1 (measured on the 1bitllm fixture:
float32 vs float64 transformers differ by up to 0.16, bitnet-ts vs float64 transformers by 4e-6). reference.json
records the float32 run's largest difference from the float64 one as `float32_max_diff`. BitLinear (the
"bitlinear" class) quantizes activations in the model's dtype, so for the float64 run its activation_quant is
replaced by the same arithmetic in float32 (`float32_activation_quant`).

Layouts and how their reference is computed:
- bitnet-2b4t: BitNetForCausalLM (2B4T's layout): packed uint8 weights, bf16 weight_scale (autobitlinear, offline),
  ReLU², tied head, byte-level BPE with the LLaMA-3 pre-tokenizer. Reference: transformers' BitNetForCausalLM.
- bitnet-2b4t-bf16: the same model as bf16 master weights (quantization_mode "online"). Reference: transformers'
  BitNetForCausalLM with its online AutoBitLinear.
- 1bitllm: 1bitLLM's BitnetForCausalLM layout (fp16 latent weights, sub-norms named inner_attn_ln and
  ffn_layernorm, SiLU, untied lm_head, no quantization_config, SentencePiece-style BPE tokenizer.json with
  byte fallback). transformers has no class for it (1bitLLM ships remote code), so the reference is
  transformers' BitNetForCausalLM configured with SiLU and online AutoBitLinear, whose WeightQuant/ActQuant are
  the same arithmetic as 1bitLLM's BitLinear, loaded from the same weights under BitNet's names.
- llama3-1.58-sharded: HF1BitLLM's Llama3-8B-1.58 layout: LlamaForCausalLM + quantization_config bitnet with
  the older BitLinear class (weight_scale divides), packed weights, untied head, in two shards with
  model.safetensors.index.json. Reference: transformers' LlamaForCausalLM, which replaces its linear layers with
  integrations/bitnet.py's BitLinear.
"""
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitnet.py's @torch.compile would need a C++ toolchain per call

import torch
from safetensors.torch import save_file

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../test/fixtures/hf"))
PROMPTS = ["The quick brown fox", "Hello, world! 123", "  spaces\tand\nnew lines", "naïve café — 東京 🚀"]
GREEDY = 8
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! Hello there, how are you today?",
    "In the beginning God created the heaven and the earth.",
    "BitNet b1.58 uses ternary weights and 8-bit activations.",
    "Numbers like 123, 4567 and 89 appear in text too.",
    "the the the and and and of of to to in in is is",
] * 20
D, F, L, NH, NKV, V = 128, 128, 2, 4, 2, 384

BITNET_TEMPLATE = (
    "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)


def byte_level_tokenizer(path):
    """A LLaMA-3-style byte-level BPE: the LLaMA-3 split regex, ByteLevel, BOS added by the post-processor."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    split = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    trainer = trainers.BpeTrainer(vocab_size=360, special_tokens=[], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.add_special_tokens(specials)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))]),
    ])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
    fast.chat_template = BITNET_TEMPLATE
    fast.save_pretrained(path)
    assert tok.get_vocab_size() <= V
    return fast


def spm_tokenizer(path):
    """A LLaMA-2-style tokenizer.json: SentencePiece BPE with byte fallback, spaces as ▁ by the normalizer."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    work = tempfile.mkdtemp()
    with open(os.path.join(work, "corpus.txt"), "w") as f:
        f.write("\n".join(CORPUS))
    spm.SentencePieceTrainer.train(input=os.path.join(work, "corpus.txt"), model_prefix=os.path.join(work, "sp"), vocab_size=340,
                                   model_type="bpe", byte_fallback=True, character_coverage=1.0, bos_id=1, eos_id=2, unk_id=0,
                                   add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity", minloglevel=2)
    kw = SentencePieceExtractor(os.path.join(work, "sp.model")).extract(models.BPE)
    shutil.rmtree(work)
    tok = Tokenizer(models.BPE(vocab=kw["vocab"], merges=kw["merges"], unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken("<unk>", special=True), AddedToken("<s>", special=True), AddedToken("</s>", special=True)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(path)
    return fast


def rand(*shape, std=0.5):
    return torch.randn(*shape, dtype=torch.float32) * std


def latent_weights(family):
    """Random float weights under HF names; norms near 1 so that they matter."""
    sub_a, sub_f = ("self_attn.inner_attn_ln", "mlp.ffn_layernorm") if family == "1bitllm" else ("self_attn.attn_sub_norm", "mlp.ffn_sub_norm")
    hd = D // NH
    w = {"model.embed_tokens.weight": rand(V, D), "model.norm.weight": 1 + rand(D, std=0.1)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + rand(D, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1 + rand(D, std=0.1)
        if family != "llama":
            w[p + sub_a + ".weight"] = 1 + rand(D, std=0.1)
            w[p + sub_f + ".weight"] = 1 + rand(F, std=0.1)
        for name, shape in [("self_attn.q_proj", (NH * hd, D)), ("self_attn.k_proj", (NKV * hd, D)), ("self_attn.v_proj", (NKV * hd, D)),
                            ("self_attn.o_proj", (D, D)), ("mlp.gate_proj", (F, D)), ("mlp.up_proj", (F, D)), ("mlp.down_proj", (D, F))]:
            w[p + name + ".weight"] = rand(*shape, std=0.05)
    return w


def is_linear(name):
    return name.endswith("_proj.weight") and ".layers." in name


def pack(weights, scale_multiplies, scale_dtype, power_of_two=False):
    """Absmean-quantize every linear weight and pack it as transformers' pack_weights does (uint8 [out/4, in]).

    `power_of_two` rounds γ to a power of two: for the dividing class, bitnet-ts multiplies by fl(1/weight_scale),
    which is exact only then; otherwise its last-bit difference from transformers' division can move one int8
    activation across a rounding boundary (a ~1e-2 change of some logits, as a float32 vs float64 run does)."""
    from transformers.integrations.bitnet import pack_weights
    out = {}
    for name, t in weights.items():
        if not is_linear(name):
            out[name] = t
            continue
        gamma = t.abs().mean().clamp(min=1e-5).to(scale_dtype).float()
        if power_of_two:
            gamma = torch.exp2(torch.round(torch.log2(gamma)))
        codes = (t / gamma).round().clamp(-1, 1)
        out[name] = pack_weights(codes.clone().to(torch.int8)).contiguous()
        scale = gamma if scale_multiplies else 1.0 / gamma
        out[name + "_scale"] = scale.reshape(1).to(scale_dtype)
    return out


def cast(weights, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in weights.items()}


def bitnet_config(quant, **extra):
    cfg = {
        "architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "vocab_size": V, "hidden_size": D, "intermediate_size": F,
        "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV, "hidden_act": "relu2",
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": 1, "torch_dtype": "bfloat16",
    }
    if quant:
        cfg["quantization_config"] = quant
    cfg.update(extra)
    return cfg


def write_dir(path, config, tensors, shards=1):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    names = sorted(tensors)
    if shards == 1:
        save_file({k: tensors[k].contiguous() for k in names}, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
        return
    per = (len(names) + shards - 1) // shards
    weight_map, total = {}, 0
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: tensors[k].contiguous() for k in names[s * per:(s + 1) * per]}
        save_file(part, os.path.join(path, fname), metadata={"format": "pt"})
        for k, v in part.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def float32_activation_quant(self, input, num_bits=8):
    """BitLinear.activation_quant with its arithmetic in float32 (as a float32 model runs it, and as
    AutoBitLinear's ActQuant always does), so that the float64 reference quantizes exactly as float32 does."""
    x = input.float()
    scale = (2 ** (num_bits - 1) - 1) / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    result = (x * scale).round().clamp(-(2 ** (num_bits - 1)), 2 ** (num_bits - 1) - 1)
    return result.to(torch.int8), scale


def reference(path, tokenizer):
    from transformers import AutoModelForCausalLM
    from transformers.integrations import bitnet
    bitnet.BitLinear.activation_quant = float32_activation_quant
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64).eval()
    model32 = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = tokenizer(prompt)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0]
            diff32 = float((model32(torch.tensor([ids])).logits[0].double() - logits).abs().max())
            positions = sorted({0, len(ids) // 2, len(ids) - 1})
            seq = list(ids)
            for _ in range(GREEDY):
                nxt = int(model(torch.tensor([seq])).logits[0, -1].argmax())
                seq.append(nxt)
            out.append({
                "prompt": prompt,
                "ids": ids,
                "positions": positions,
                "logits": [[round(float(x), 6) for x in logits[p]] for p in positions],
                "greedy": seq[len(ids):],
                "float32_max_diff": round(diff32, 6),
            })
    return out


def save_reference(path, how, entries):
    import tokenizers
    import transformers
    with open(os.path.join(path, "reference.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "tokenizers": tokenizers.__version__,
                   "reference": how, "prompts": entries}, f)


def main():
    torch.manual_seed(1234)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    # 2B4T layout, packed.
    path = os.path.join(OUT, "bitnet-2b4t")
    tok = byte_level_tokenizer(path)
    latent = latent_weights("bitnet")
    offline = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "offline"}
    cfg = bitnet_config(offline, bos_token_id=tok.bos_token_id, eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<|eot_id|>")])
    write_dir(path, cfg, pack(cast(latent, torch.bfloat16), True, torch.bfloat16))
    with open(os.path.join(path, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": tok.bos_token_id, "eos_token_id": cfg["eos_token_id"]}, f)
    save_reference(path, "transformers BitNetForCausalLM (AutoBitLinear, offline)", reference(path, tok))

    # 2B4T master weights, online.
    path = os.path.join(OUT, "bitnet-2b4t-bf16")
    tok = byte_level_tokenizer(path)
    online = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}
    write_dir(path, bitnet_config(online, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id), cast(latent, torch.bfloat16))
    save_reference(path, "transformers BitNetForCausalLM (AutoBitLinear, online)", reference(path, tok))

    # 1bitLLM layout.
    path = os.path.join(OUT, "1bitllm")
    tok = spm_tokenizer(path)
    latent = cast(latent_weights("1bitllm"), torch.float16)
    latent["lm_head.weight"] = rand(V, D).to(torch.float16)
    cfg = {
        "architectures": ["BitnetForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": D, "intermediate_size": F,
        "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV, "hidden_act": "silu",
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16", "weight_bits": 1, "input_bits": 8,
    }
    write_dir(path, cfg, latent)
    with tempfile.TemporaryDirectory() as ref_dir:
        renamed = {k.replace("self_attn.inner_attn_ln", "self_attn.attn_sub_norm").replace("mlp.ffn_layernorm", "mlp.ffn_sub_norm"): v for k, v in latent.items()}
        ref_cfg = bitnet_config(online, hidden_act="silu", rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
        write_dir(ref_dir, ref_cfg, renamed)
        save_reference(path, "transformers BitNetForCausalLM with hidden_act silu and online AutoBitLinear (1bitLLM's BitLinear arithmetic)", reference(ref_dir, tok))

    # HF1BitLLM Llama3-8B-1.58 layout, sharded.
    path = os.path.join(OUT, "llama3-1.58-sharded")
    tok = byte_level_tokenizer(path)
    latent = latent_weights("llama")
    latent["lm_head.weight"] = rand(V, D)
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": D, "intermediate_size": F,
        "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV, "hidden_act": "silu",
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": False,
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "torch_dtype": "bfloat16", "attention_bias": False, "mlp_bias": False,
        "quantization_config": {"quant_method": "bitnet", "linear_class": "bitlinear", "quantization_mode": "offline", "modules_to_not_convert": None},
    }
    write_dir(path, cfg, pack(cast(latent, torch.bfloat16), False, torch.bfloat16, power_of_two=True), shards=2)
    save_reference(path, "transformers LlamaForCausalLM with integrations/bitnet.py BitLinear (weight_scale divides)", reference(path, tok))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
