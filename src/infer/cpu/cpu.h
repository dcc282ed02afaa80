/* What the CPU can do, detected once per process, and the level the runtime
 * uses (EDGEML_CPU=reference|sse2|avx2|avx512|avx512vnni|neon|neondot forces
 * a lower one). Kernels pick their variant at prepare time from em_cpu_level();
 * only files under cpu/x86/avx2/, cpu/x86/avx512/ and cpu/arm/neon/ are built
 * with ISA flags (CMakeLists.txt), never the library as a whole. */
#ifndef EDGEML_INFER_CPU_H
#define EDGEML_INFER_CPU_H

#include <stdbool.h>

typedef enum em_cpu_level {
    EM_CPU_REFERENCE = 0, /* portable C, no SIMD assumed */
    EM_CPU_SSE2,          /* x86_64 baseline */
    EM_CPU_AVX2,          /* AVX2 + FMA (Haswell+) */
    EM_CPU_AVX512,        /* AVX-512 F/BW/DQ/VL (Skylake-X+) */
    EM_CPU_AVX512VNNI,    /* + VNNI (Cascade Lake+) */
    EM_CPU_NEON = 16,     /* aarch64 Advanced SIMD */
    EM_CPU_NEONDOT,       /* + SDOT/UDOT */
} em_cpu_level;

/* The level in use: what the CPU reports, capped by EDGEML_CPU. */
em_cpu_level em_cpu_level_get(void);
/* What the hardware supports, ignoring EDGEML_CPU. */
em_cpu_level em_cpu_level_hw(void);
const char *em_cpu_level_name(em_cpu_level l);
/* True when the level in use includes `l` (same family, at least as high). */
bool em_cpu_has(em_cpu_level l);
/* Tests: force a level for this process (capped by the hardware); returns the
 * level now in use. */
em_cpu_level em_cpu_force(em_cpu_level l);
/* Logical CPUs this process may run on (sched_getaffinity), >= 1. */
int em_cpu_count(void);

#endif
