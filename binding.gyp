# The native kernel addon (native/, plain C over N-API), built by `npm install` through
# scripts/build-native.mjs. Each ISA's kernels are a static library of their own, compiled with that
# ISA's flags, so that only code cpu.c selects at run time uses the instructions; the addon itself is
# built for the baseline of its architecture and loads on any CPU of it.
{
  "variables": {
    "common_cflags": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"],
    "x86_base": ["-mavx2", "-mfma", "-mf16c", "-mbmi2"]
  },
  "target_defaults": {
    "cflags_c": ["<@(common_cflags)"],
    "xcode_settings": {
      "OTHER_CFLAGS": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"],
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    }
  },
  "targets": [
    {
      "target_name": "bitnet_native",
      "sources": [
        "native/api.c",
        "native/jobs.c",
        "native/pool.c",
        "native/cpu.c",
        "native/ops.c",
        "native/prep.c",
        "native/ternary_generic.c",
        "native/float_generic.c",
        "native/q8_generic.c",
        "native/attention_generic.c"
      ],
      "libraries": ["-lpthread"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", {
          "defines": ["BN_X86_SETS"],
          "dependencies": ["bitnet_avx2", "bitnet_avxvnni", "bitnet_avx512"]
        }],
        ["target_arch=='arm64' and OS!='win'", {
          "defines": ["BN_ARM_SETS"],
          "dependencies": ["bitnet_neon", "bitnet_neondot"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64' and OS!='win'", {
      "targets": [
        {
          "target_name": "bitnet_avx2",
          "type": "static_library",
          "defines": ["BN_X86_SETS"],
          "cflags_c": ["<@(x86_base)"],
          "xcode_settings": { "OTHER_CFLAGS": ["<@(x86_base)"] },
          "sources": ["native/ternary_avx2.c", "native/float_avx2.c", "native/q8_avx2.c", "native/attention_avx2.c"]
        },
        {
          "target_name": "bitnet_avxvnni",
          "type": "static_library",
          "defines": ["BN_X86_SETS"],
          "cflags_c": ["<@(x86_base)", "-mavxvnni"],
          "xcode_settings": { "OTHER_CFLAGS": ["<@(x86_base)", "-mavxvnni"] },
          "sources": ["native/ternary_avxvnni.c", "native/q8_avxvnni.c"]
        },
        {
          "target_name": "bitnet_avx512",
          "type": "static_library",
          "defines": ["BN_X86_SETS"],
          "cflags_c": ["<@(x86_base)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni"],
          "xcode_settings": { "OTHER_CFLAGS": ["<@(x86_base)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni"] },
          "sources": ["native/ternary_avx512.c", "native/float_avx512.c", "native/q8_avx512.c", "native/attention_avx512.c"]
        }
      ]
    }],
    ["target_arch=='arm64' and OS!='win'", {
      "targets": [
        {
          "target_name": "bitnet_neon",
          "type": "static_library",
          "defines": ["BN_ARM_SETS"],
          "sources": ["native/ternary_neon.c", "native/float_neon.c", "native/q8_neon.c", "native/attention_neon.c"]
        },
        {
          "target_name": "bitnet_neondot",
          "type": "static_library",
          "defines": ["BN_ARM_SETS"],
          "cflags_c": ["-march=armv8.2-a+dotprod"],
          "xcode_settings": { "OTHER_CFLAGS": ["-march=armv8.2-a+dotprod"] },
          "sources": ["native/ternary_neondot.c", "native/q8_neondot.c"]
        }
      ]
    }]
  ]
}
