/* Run a process as if its x86 CPU had AVX2 but no AVX-512, VNNI or AMX, to measure on a VNNI
 * host what ONNX Runtime does on an AVX2 one (its kernels are chosen from CPUID at start).
 *
 * CPUID faulting (Linux arch_prctl ARCH_SET_CPUID; the CPU lists "cpuid_fault") makes every CPUID
 * instruction of the process trap; the SIGSEGV handler runs the real CPUID and clears the hidden
 * features' bits. /proc/cpuinfo, which Ascolto reads to pick int8's weight bits, is answered with
 * the same features hidden from its "flags" lines. The setting is per thread and inherited by the
 * threads a process starts; a new program (exec) loads this library again through LD_PRELOAD.
 *
 * Kernels, and so results, are exactly those of an AVX2 host; speed is this CPU's running AVX2
 * code, an estimate of an AVX2 host's, not a measurement of one. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012
#define BIT(n) (1u << (n))

static long allow_cpuid(unsigned long allowed) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, allowed); }

static void on_fault(int sig, siginfo_t *info, void *context) {
    greg_t *r = ((ucontext_t *)context)->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)r[REG_RIP];
    (void)sig, (void)info;
    if (ip[0] != 0x0f || ip[1] != 0xa2) { /* not CPUID: a real crash, which the default action ends */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    unsigned leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX], a, b, c, d;
    allow_cpuid(1);
    __cpuid_count(leaf, sub, a, b, c, d);
    allow_cpuid(0);
    if (leaf == 7 && sub == 0) { /* AVX-512 F, DQ, IFMA, PF, ER, CD, BW, VL; VBMI, VBMI2, VNNI, BITALG,
                                    VPOPCNTDQ; 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE, AMX-INT8 */
        b &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        c &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        d &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
    } else if (leaf == 7 && sub == 1) { /* AVX-VNNI, AVX512-BF16, AVX-IFMA */
        a &= ~(BIT(4) | BIT(5) | BIT(23));
    }
    r[REG_RAX] = a, r[REG_RBX] = b, r[REG_RCX] = c, r[REG_RDX] = d;
    r[REG_RIP] += 2; /* CPUID is two bytes: carry on after it */
}

static int hidden_flag(const char *word) {
    return strncmp(word, "avx512", 6) == 0 || strncmp(word, "avx_vnni", 8) == 0 || strncmp(word, "amx", 3) == 0;
}

static int masked_cpuinfo(void) {
    FILE *in = fopen("/proc/cpuinfo", "r"); /* glibc's fopen does not come back through open() below */
    int fd = memfd_create("cpuinfo", 0);
    static char line[1 << 16], out[1 << 16];
    if (!in || fd < 0) return -1;
    while (fgets(line, sizeof line, in)) {
        char *colon = strchr(line, ':'), *end = out;
        if (strncmp(line, "flags", 5) != 0 || !colon) {
            if (write(fd, line, strlen(line)) < 0) break;
            continue;
        }
        end += sprintf(end, "%.*s", (int)(colon - line + 1), line);
        for (char *word = strtok(colon + 1, " \t\n"); word; word = strtok(NULL, " \t\n"))
            if (!hidden_flag(word)) end += sprintf(end, " %s", word);
        *end++ = '\n';
        if (write(fd, out, end - out) < 0) break;
    }
    fclose(in);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

#define OPEN_LIKE(name, params, args)                                                   \
    int name params {                                                                   \
        static int (*real)();                                                           \
        va_list rest;                                                                   \
        va_start(rest, flags);                                                          \
        mode_t mode = va_arg(rest, mode_t);                                             \
        va_end(rest);                                                                   \
        if (strcmp(path, "/proc/cpuinfo") == 0) return masked_cpuinfo();                \
        if (!real) real = dlsym(RTLD_NEXT, #name);                                      \
        return real args;                                                               \
    }
OPEN_LIKE(open, (const char *path, int flags, ...), (path, flags, mode))
OPEN_LIKE(open64, (const char *path, int flags, ...), (path, flags, mode))
OPEN_LIKE(openat, (int dir, const char *path, int flags, ...), (dir, path, flags, mode))
OPEN_LIKE(openat64, (int dir, const char *path, int flags, ...), (dir, path, flags, mode))

__attribute__((constructor)) static void hide(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &action, NULL);
    if (allow_cpuid(0) != 0) {
        fprintf(stderr, "hide_avx512: this CPU or kernel has no CPUID faulting (no cpuid_fault in /proc/cpuinfo); "
                        "run on an AVX2 host instead\n");
        _exit(2);
    }
}
