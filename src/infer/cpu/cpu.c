/* CPU feature detection: once per process, lock-free after the first call. */
#include "cpu.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static em_cpu_level detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return EM_CPU_SSE2;
    bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
    if (!osxsave || !avx) return EM_CPU_SSE2;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6) return EM_CPU_SSE2; /* the OS saves no YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return EM_CPU_SSE2;
    bool avx2 = b & (1u << 5);
    if (!avx2 || !fma) return EM_CPU_SSE2;
    bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    bool vnni = c & (1u << 11);
    if (!(f && dq && bw && vl) || (xcr0 & 0xe0) != 0xe0) return EM_CPU_AVX2;
    return vnni ? EM_CPU_AVX512VNNI : EM_CPU_AVX512;
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
static em_cpu_level detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    return (hw & HWCAP_ASIMDDP) ? EM_CPU_NEONDOT : EM_CPU_NEON;
}
#else
static em_cpu_level detect(void) { return EM_CPU_REFERENCE; }
#endif

static const struct { const char *name; em_cpu_level l; } k_names[] = {
    {"reference", EM_CPU_REFERENCE}, {"sse2", EM_CPU_SSE2}, {"avx2", EM_CPU_AVX2},
    {"avx512", EM_CPU_AVX512}, {"avx512vnni", EM_CPU_AVX512VNNI}, {"neon", EM_CPU_NEON},
    {"neondot", EM_CPU_NEONDOT},
};

const char *em_cpu_level_name(em_cpu_level l)
{
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (k_names[i].l == l) return k_names[i].name;
    return "?";
}

static _Atomic int g_hw = -1, g_use = -1;

em_cpu_level em_cpu_level_hw(void)
{
    int v = atomic_load_explicit(&g_hw, memory_order_acquire);
    if (v < 0) {
        v = (int)detect();
        atomic_store_explicit(&g_hw, v, memory_order_release);
    }
    return (em_cpu_level)v;
}

/* min(hw, want) within one family; a level of another family means reference. */
static em_cpu_level cap(em_cpu_level hw, em_cpu_level want)
{
    if (want == EM_CPU_REFERENCE) return EM_CPU_REFERENCE;
    if ((hw >= EM_CPU_NEON) != (want >= EM_CPU_NEON)) return EM_CPU_REFERENCE;
    return want < hw ? want : hw;
}

em_cpu_level em_cpu_level_get(void)
{
    int v = atomic_load_explicit(&g_use, memory_order_acquire);
    if (v < 0) {
        em_cpu_level hw = em_cpu_level_hw(), use = hw;
        const char *e = getenv("EDGEML_CPU");
        if (e && *e)
            for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
                if (!strcmp(e, k_names[i].name)) use = cap(hw, k_names[i].l);
        v = (int)use;
        atomic_store_explicit(&g_use, v, memory_order_release);
    }
    return (em_cpu_level)v;
}

em_cpu_level em_cpu_force(em_cpu_level l)
{
    em_cpu_level use = cap(em_cpu_level_hw(), l);
    atomic_store_explicit(&g_use, (int)use, memory_order_release);
    return use;
}

bool em_cpu_has(em_cpu_level l)
{
    em_cpu_level u = em_cpu_level_get();
    if (l == EM_CPU_REFERENCE) return true;
    if ((u >= EM_CPU_NEON) != (l >= EM_CPU_NEON)) return false;
    return u >= l;
}

int em_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
