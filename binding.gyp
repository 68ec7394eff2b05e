# The native kernel addon (native/, plain C over N-API), built by `npm install` through
# scripts/build-native.mjs. Each ISA's kernels are a static library of their own, compiled with that
# ISA's flags, so that only code cpu.c selects at run time uses the instructions.
{
  "target_defaults": {
    "cflags_c": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"],
    "cflags!": ["-fno-tree-vectorize"],
    "xcode_settings": {
      "OTHER_CFLAGS": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fno-math-errno"],
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
      "libraries": ["-lpthread"]
    }
  ]
}
