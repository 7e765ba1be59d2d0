// BACKPROP_CPU_CLONES: a hot loop compiled three times, for x86-64's baseline, x86-64-v3 (AVX2, FMA) and
// x86-64-v4 (AVX-512), and the copy for the running CPU chosen when the program loads (GCC's target_clones,
// an ifunc), so that an installed library or command runs on any x86-64 and still uses the vector units of
// the one it runs on. Nothing to do with -march=native (BACKPROP_NATIVE: one copy, for the building CPU),
// with clang (the fuzzers) or off x86-64.
//
// The copies give the same bits: the library is compiled with -ffp-contract=off, so no copy fuses an
// a * b + c that another rounds twice (math::multiply_add says where a product-sum rounds once), and vector
// and scalar IEEE adds, products, quotients and square roots round alike. A loop passed to the thread pool
// is a lambda, which is not cloned: its body calls a cloned function.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(BACKPROP_NATIVE_BUILD)
#define BACKPROP_CPU_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define BACKPROP_CPU_CLONES
#endif
