/* luavm.c: the policy VM: allocator with a cap, the frozen allow-listed environment, the
 * deadline timer + count hook, and the protected call with a traceback handler.
 * See luavm.h for the contract and docs/policies.md for why it is built this way. */
#define _GNU_SOURCE 1
#include "luavm.h"

#include <ctype.h>
#include <link.h>
#include <setjmp.h>
#include <stdint.h>
#include <ucontext.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

#define LUAVM_SIGNAL       (SIGRTMIN + 5)
/* With the JIT on: how long after the deadline the soft stop (the count hook) may take
 * before the VM is abandoned, and how soon to look again when the signal landed outside
 * compiled code (in LuaJIT's runtime, the allocator, libc). */
#define LUAVM_GRACE_MS     5
#define LUAVM_RETRY_NS     1000000L
#define LUAVM_MAX_OBJECTS  512

/* Which way the interrupted program counter is read from the signal's context. Elsewhere
 * the JIT stays off (the hook alone holds the budget there). */
#if defined(__x86_64__)
#define LUAVM_CTX_PC(uc) ((uintptr_t)(uc)->uc_mcontext.gregs[REG_RIP])
#elif defined(__aarch64__)
#define LUAVM_CTX_PC(uc) ((uintptr_t)(uc)->uc_mcontext.pc)
#endif

/* Every block the allocator hands out starts with this header, linking it into its VM's
 * list: a VM abandoned inside compiled code cannot be lua_close'd, so its memory is freed
 * block by block from the list instead. 16 bytes keep malloc's 16-byte alignment. */
typedef struct luavm_blk_s {
    struct luavm_blk_s *prev, *next;
} luavm_blk_t;

typedef struct luavm_discard_s {
    struct luavm_discard_s *next;
    void (*fn)(void *priv);
    void *priv;
} luavm_discard_t;
/* Extra bytes the traceback handler may use above the cap, so that a runtime error raised
 * near the cap still gets its file:line message instead of "error in error handling". */
#define LUAVM_ERR_RESERVE  (256u * 1024)
#define LUAVM_MAX_LEVELS   200     /* stack frames the handler walks to find a file frame */
#define LUAVM_MAX_MODNAME  128

struct luavm_s {
    lua_State   *L;             /* NULL once the VM was abandoned (dead) */
    luavm_blk_t  blocks;        /* every live block (circular list head) */
    int          jit;           /* the JIT compiler is on in this VM */
    int          dead;          /* abandoned inside compiled code: only luavm_free is valid */
    volatile sig_atomic_t can_jump; /* jb is set: the handler may abandon the call */
    volatile sig_atomic_t escalate; /* the grace period after the deadline is over */
    sigjmp_buf   jb;
    luavm_discard_t *discards;  /* host callbacks for an abandonment (luavm_on_discard) */
    char        *source;        /* the policy text as loaded, for luavm_load_buffer rebuilds */
    size_t       source_len;
    size_t       used;          /* bytes held by the Lua state (allocator's count) */
    size_t       limit;
    int          enforce;       /* 1 while a protected call runs: the cap applies */
    int          relax;         /* 1 while the traceback handler builds the message */
    int          mem_refused;   /* the allocator refused a block during this call */
    size_t       after_gc;      /* used right after the last collection luavm_run forced */
    volatile sig_atomic_t timed_out;
    int          running;
    unsigned     budget_ms;
    timer_t      timer;
    int          have_timer;
    pid_t        tid;           /* the thread the timer signals */
    char        *lib_dir;
    int          env_ref;       /* the frozen environment (registry refs) */
    int          loaded_ref;    /* require's cache */
    int          hooks_ref;     /* the table the policy returned */
    char         chunk[320];    /* the policy's chunk name without '@', for messages */
    const char  *hook;          /* hook running now, for the NOMEM message */
    char         err[1024];
    char         trace[4096];
};

/* The VM whose call is running on this thread; read by the signal handler. Static TLS in
 * the executable, so reading it from a handler is async-signal-safe. */
static __thread luavm_t *volatile tls_running;

static pthread_once_t luavm_sig_once = PTHREAD_ONCE_INIT;
static int luavm_sig_err;

/* A unique address used as "module is being loaded" in require's cache. */
static char luavm_loading_mark;

static void luavm_seterr(luavm_t *vm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void luavm_seterr(luavm_t *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof vm->err, fmt, ap);
    va_end(ap);
}

static void luavm_copy(char *dst, size_t dstlen, const char *src)
{
    if (dst && dstlen)
        snprintf(dst, dstlen, "%s", src ? src : "");
}

static luavm_t *luavm_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---------------------------------------------------------------- allocator ---------- */

/* lua_Alloc with a byte count. Growth past the cap is refused only while a call runs
 * (enforce): outside calls the host pushes arguments unprotected, where a refusal would
 * reach LuaJIT's panic handler. Shrinks never fail: if realloc cannot shrink, the old
 * block is still valid and is kept. */
static void luavm_blk_link(luavm_t *vm, luavm_blk_t *b)
{
    b->prev = &vm->blocks;
    b->next = vm->blocks.next;
    vm->blocks.next->prev = b;
    vm->blocks.next = b;
}

static void luavm_blk_unlink(luavm_blk_t *b)
{
    b->prev->next = b->next;
    b->next->prev = b->prev;
}

static void *luavm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    luavm_t *vm = ud;
    luavm_blk_t *b = ptr ? (luavm_blk_t *)ptr - 1 : NULL, *nb;

    if (ptr == NULL)
        osize = 0;
    if (nsize == 0) {
        if (b) {
            luavm_blk_unlink(b);
            free(b);
        }
        vm->used -= osize;
        return NULL;
    }
    if (nsize > osize && vm->enforce) {
        size_t cap = vm->limit + (vm->relax ? LUAVM_ERR_RESERVE : 0);
        size_t rest = vm->used - osize;
        if (rest > cap || nsize > cap - rest) {
            vm->mem_refused = 1;
            return NULL;
        }
    }
    if (nsize > SIZE_MAX - sizeof(*nb)) {
        vm->mem_refused = 1;
        return NULL;
    }
    if (b)
        luavm_blk_unlink(b);
    nb = realloc(b, sizeof(*nb) + nsize);
    if (nb == NULL) {
        if (b)
            luavm_blk_link(vm, b);
        if (nsize <= osize)
            return ptr;
        vm->mem_refused = 1;
        return NULL;
    }
    luavm_blk_link(vm, nb);
    vm->used = vm->used - osize + nsize;
    return nb + 1;
}

/* ------------------------------------------------------- code the JIT may be running ------ */

/* The executable segments of every loaded object (the program, libc, libluajit, ...). An
 * interrupted program counter in none of them is in memory LuaJIT mapped for compiled
 * traces: pure Lua, which can be abandoned without leaving a lock held or a C structure
 * half-updated. Two tables, swapped atomically, so a handler never reads one being filled. */
typedef struct luavm_objtab_s {
    int n;
    struct { uintptr_t lo, hi; } r[LUAVM_MAX_OBJECTS];
} luavm_objtab_t;

static luavm_objtab_t luavm_objtabs[2];
static luavm_objtab_t *_Atomic luavm_objtab;
static pthread_mutex_t luavm_objtab_lock = PTHREAD_MUTEX_INITIALIZER;

static int luavm_objtab_add(struct dl_phdr_info *info, size_t size, void *data)
{
    luavm_objtab_t *t = data;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        if (t->n == LUAVM_MAX_OBJECTS) {
            t->n = -1;                      /* too many to tell: never abandon */
            return 1;
        }
        t->r[t->n].lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        t->r[t->n].hi = t->r[t->n].lo + ph->p_memsz;
        t->n++;
    }
    return 0;
}

/* Called at every luavm_create (objects loaded since are then known too). */
static void luavm_objtab_refresh(void)
{
    pthread_mutex_lock(&luavm_objtab_lock);
    luavm_objtab_t *cur = atomic_load(&luavm_objtab);
    luavm_objtab_t *next = cur == &luavm_objtabs[0] ? &luavm_objtabs[1] : &luavm_objtabs[0];
    next->n = 0;
    dl_iterate_phdr(luavm_objtab_add, next);
    atomic_store(&luavm_objtab, next);
    pthread_mutex_unlock(&luavm_objtab_lock);
}

/* Async-signal-safe: is the interrupted instruction in compiled Lua code? */
static int luavm_in_compiled_code(void *uctx)
{
#ifdef LUAVM_CTX_PC
    luavm_objtab_t *t = atomic_load(&luavm_objtab);
    uintptr_t pc = LUAVM_CTX_PC((ucontext_t *)uctx);
    if (t == NULL || t->n <= 0)
        return 0;
    for (int i = 0; i < t->n; i++)
        if (pc >= t->r[i].lo && pc < t->r[i].hi)
            return 0;
    return 1;
#else
    (void)uctx;
    return 0;
#endif
}

/* ---------------------------------------------------------------- the budget --------- */

/* Installed by the signal handler once the deadline passed: raise at the next bytecode.
 * The hook stays installed (count 1) until the call returns, so a policy that catches the
 * error with pcall is interrupted again at its next instruction. */
static void luavm_timeout_hook(lua_State *L, lua_Debug *ar)
{
    luavm_t *vm = luavm_of(L);
    (void)ar;
    if (vm->escalate && vm->can_jump) {
        /* Past the grace period the policy is still running: it caught the error below
         * (pcall in a compiled loop, which never sees the hook). Called from LuaJIT's
         * hook dispatch, so no foreign lock is held: abandon the VM from here. */
        vm->can_jump = 0;
        siglongjmp(vm->jb, 1);
    }
    lua_pushfstring(L, "time budget of %d ms exceeded", (int)vm->budget_ms);
    lua_error(L);
}

static void luavm_timer_arm_ns(luavm_t *vm, long ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = ns / 1000000000L;
    its.it_value.tv_nsec = ns % 1000000000L;
    timer_settime(vm->timer, 0, &its, NULL);      /* async-signal-safe */
}

/* The deadline timer's signal. Only acts if this thread is running the VM whose timer
 * fired; a stale signal (call already over) is ignored.
 *
 * First the soft stop: a count hook that raises at the next bytecode the interpreter runs
 * (lua_sethook is documented as safe in a signal handler: it stores the hook and switches
 * the dispatch table). Compiled traces never look at hooks, so with the JIT on the timer is
 * re-armed: if the call is still running LUAVM_GRACE_MS later and the signal lands in
 * compiled code, the handler jumps out of it (siglongjmp to luavm_run) and the VM is
 * abandoned. Landing anywhere else (LuaJIT's C runtime, the allocator, libc, a host
 * function) it looks again 1 ms later: only pure Lua is ever cut short. */
static void luavm_on_signal(int sig, siginfo_t *si, void *uctx)
{
    int saved = errno;
    luavm_t *vm = tls_running;
    (void)sig;
    if (vm != NULL && si != NULL && si->si_code == SI_TIMER && si->si_value.sival_ptr == vm) {
        if (!vm->timed_out) {
            vm->timed_out = 1;
            lua_sethook(vm->L, luavm_timeout_hook, LUA_MASKCOUNT, 1);
            if (vm->jit)
                luavm_timer_arm_ns(vm, LUAVM_GRACE_MS * 1000000L);
        } else if (vm->jit) {
            vm->escalate = 1;
            if (vm->can_jump && luavm_in_compiled_code(uctx)) {
                vm->can_jump = 0;
                errno = saved;
                siglongjmp(vm->jb, 1);
            }
            luavm_timer_arm_ns(vm, LUAVM_RETRY_NS);
        }
    }
    errno = saved;
}

static void luavm_sig_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = luavm_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(LUAVM_SIGNAL, &sa, NULL) != 0)
        luavm_sig_err = errno;
}

static pid_t luavm_gettid(void)
{
    static __thread pid_t tid;
    if (tid == 0)
        tid = gettid();
    return tid;
}

static int luavm_timer_arm(luavm_t *vm, unsigned ms)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    return timer_settime(vm->timer, 0, &its, NULL);
}

/* Traceback handler (the pcall message handler). Writes the one-line message, prefixed
 * with the innermost frame of a Lua file when the message has no "file:line:" yet, and the
 * traceback into the VM; both survive the unwinding. Runs before the stack unwinds. */
static int luavm_msgh(lua_State *L)
{
    luavm_t *vm = luavm_of(L);
    lua_Debug ar;
    char where[300] = "";
    const char *msg, *p;
    int level, located = 0;

    vm->relax = 1;
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
        msg = lua_tostring(L, 1);
    else
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));

    /* Already "src:123: ..."? (error() with level 1, luaL_error, compile errors.) */
    p = strchr(msg, ':');
    if (p && p != msg && isdigit((unsigned char)p[1])) {
        const char *q = p + 1;
        while (isdigit((unsigned char)*q))
            q++;
        located = *q == ':' && memchr(msg, '\n', (size_t)(p - msg)) == NULL;
    }
    if (!located) {
        for (level = 0; level < LUAVM_MAX_LEVELS && lua_getstack(L, level, &ar); level++) {
            if (!lua_getinfo(L, "Sl", &ar))
                break;
            if (ar.source && ar.source[0] == '@' && ar.currentline > 0) {
                snprintf(where, sizeof where, "%s:%d: ", ar.short_src, ar.currentline);
                break;
            }
        }
    }
    snprintf(vm->err, sizeof vm->err, "%s%s", where, msg);
    luaL_traceback(L, L, NULL, 1);
    luavm_copy(vm->trace, sizeof vm->trace, lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
}

/* The handler jumped out of compiled code: the Lua state may be mid-update, so it is never
 * touched again. The host's discard callbacks forget what they tied to it, every block is
 * freed from the list, and the VM is dead (luavm_dead). The compiled-code area LuaJIT
 * mapped for it cannot be found from outside and stays mapped (tens of KB): policy.c
 * rebuilds such a policy with the JIT off, so this happens once per policy version. */
static void luavm_abandon(luavm_t *vm)
{
    sigset_t set;
    /* siglongjmp left the handler with its signal still blocked. */
    sigemptyset(&set);
    sigaddset(&set, LUAVM_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    while (vm->discards) {
        luavm_discard_t *d = vm->discards;
        vm->discards = d->next;
        d->fn(d->priv);
        free(d);
    }
    for (luavm_blk_t *b = vm->blocks.next, *next; b != &vm->blocks; b = next) {
        next = b->next;
        free(b);
    }
    vm->blocks.next = vm->blocks.prev = &vm->blocks;
    vm->L = NULL;
    vm->dead = 1;
    vm->used = 0;
    vm->running = 0;
    vm->enforce = vm->relax = 0;
    vm->env_ref = vm->loaded_ref = vm->hooks_ref = LUA_NOREF;
    vm->trace[0] = '\0';
    luavm_seterr(vm, "%s: time budget of %u ms exceeded%s%s%s (stopped inside JIT-compiled code, "
                 "where no line is known; the VM was discarded)", vm->chunk, vm->budget_ms,
                 vm->hook ? " in hook '" : "", vm->hook ? vm->hook : "", vm->hook ? "'" : "");
}

/* Run the function at -(nargs+1) with its arguments under the budget and the cap.
 * Leaves nresults values on OK, nothing otherwise. */
static int luavm_run(luavm_t *vm, int nargs, int nresults)
{
    lua_State *L = vm->L;
    int base = lua_gettop(L) - nargs;   /* the function's index; the handler goes here */
    volatile int rc = 0, jumped = 0;
    int status;

    lua_pushcfunction(L, luavm_msgh);
    lua_insert(L, base);
    vm->err[0] = vm->trace[0] = '\0';
    vm->timed_out = 0;
    vm->escalate = 0;
    vm->mem_refused = 0;
    vm->relax = 0;
    if (luavm_timer_arm(vm, vm->budget_ms) != 0) {
        luavm_seterr(vm, "luavm: timer_settime: %s", strerror(errno));
        lua_settop(L, base - 1);
        return LUAVM_ERROR;
    }
    vm->running = 1;
    vm->enforce = 1;
    atomic_signal_fence(memory_order_seq_cst);
    tls_running = vm;
    atomic_signal_fence(memory_order_seq_cst);

    if (sigsetjmp(vm->jb, 0) == 0) {
        vm->can_jump = 1;
        atomic_signal_fence(memory_order_seq_cst);
        rc = lua_pcall(L, nargs, nresults, base);
        atomic_signal_fence(memory_order_seq_cst);
        vm->can_jump = 0;
    } else {
        jumped = 1;
    }

    atomic_signal_fence(memory_order_seq_cst);
    tls_running = NULL;
    atomic_signal_fence(memory_order_seq_cst);
    luavm_timer_arm(vm, 0);
    if (jumped) {
        luavm_abandon(vm);
        return LUAVM_TIMEOUT;
    }
    lua_sethook(L, NULL, 0, 0);   /* a handler that ran just before we cleared tls_running */
    vm->enforce = 0;
    vm->relax = 0;
    vm->running = 0;

    if (rc == 0) {
        lua_remove(L, base);
        vm->err[0] = '\0';
        status = LUAVM_OK;
    } else {
        if (vm->timed_out)
            status = LUAVM_TIMEOUT;
        else if (rc == LUA_ERRMEM || (rc == LUA_ERRERR && vm->mem_refused))
            status = LUAVM_NOMEM;
        else
            status = LUAVM_ERROR;
        if (status == LUAVM_NOMEM) {
            luavm_seterr(vm, "%s: memory limit of %zu bytes exceeded%s%s%s", vm->chunk,
                         vm->limit, vm->hook ? " in hook '" : "", vm->hook ? vm->hook : "",
                         vm->hook ? "'" : "");
        } else if (vm->err[0] == '\0') {
            /* The handler did not run: the raise itself failed (memory) or the handler did. */
            if (status == LUAVM_TIMEOUT)
                luavm_seterr(vm, "%s: time budget of %u ms exceeded", vm->chunk, vm->budget_ms);
            else
                luavm_seterr(vm, "%s: %s", vm->chunk,
                             lua_isstring(L, -1) ? lua_tostring(L, -1) : "error in error handling");
        }
        lua_settop(L, base - 1);
    }
    /* Garbage from a failed call (the table a runaway loop built) is unreachable now;
     * collect it at once so the next call starts well below the cap. Near the cap, collect
     * too, but not again until the heap has grown by an eighth of the cap since: a policy
     * whose live data is legitimately above three quarters (a big cluster's cache) would
     * otherwise pay a full collection on every call. */
    if (status == LUAVM_NOMEM ||
        (vm->used > vm->limit / 4 * 3 && vm->used > vm->after_gc + vm->limit / 8)) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        vm->after_gc = vm->used;
    }
    return status;
}

/* ---------------------------------------------------------------- files ---------------- */

/* Read a whole regular file of at most LUAVM_MAX_SOURCE_BYTES. Caller frees *buf. */
static int luavm_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *b;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((unsigned long long)st.st_size > LUAVM_MAX_SOURCE_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, LUAVM_MAX_SOURCE_BYTES);
        close(fd);
        return -1;
    }
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: short read", path);
        free(b);
        return -1;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return 0;
}

/* Compile text source; binary chunks (LuaJIT "\x1bLJ" or PUC "\x1bLua") are refused both
 * here and by mode "t". Pushes the function, or the message on failure. */
static int luavm_compile(lua_State *L, const char *buf, size_t len, const char *chunkname)
{
    if (len > 0 && buf[0] == '\x1b') {
        lua_pushfstring(L, "%s: binary chunks are not allowed",
                        chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname);
        return LUA_ERRSYNTAX;
    }
    return luaL_loadbufferx(L, buf, len, chunkname, "t");
}

/* ---------------------------------------------------------------- environment ---------- */

static int luavm_lua_undefined(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "undefined global '%s'", lua_tostring(L, 2));
    return luaL_error(L, "undefined global (a %s key)", luaL_typename(L, 2));
}

static int luavm_lua_setglobal(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "attempt to set global '%s'", lua_tostring(L, 2));
    return luaL_error(L, "attempt to set a global (a %s key)", luaL_typename(L, 2));
}

static int luavm_lua_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify read-only table '%s'",
                      lua_tostring(L, lua_upvalueindex(1)));
}

/* load(text [, chunkname [, mode [, env]]]): text only; functions as chunk sources are not
 * accepted. The chunk's environment is env or the policy environment. */
static int luavm_lua_load(lua_State *L)
{
    luavm_t *vm = luavm_of(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");

    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    if (strcmp(mode, "t") != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "load: only text chunks (mode \"t\") are allowed");
        return 2;
    }
    if (luavm_compile(L, s, len, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (lua_isnoneornil(L, 4))
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
    else
        lua_pushvalue(L, 4);
    lua_setfenv(L, -2);
    return 1;
}

static int luavm_modname_ok(const char *name)
{
    size_t i, n = strlen(name);
    if (n == 0 || n > LUAVM_MAX_MODNAME || name[0] == '.' || name[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.' && name[i + 1] == '.')
            return 0;
        if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* require(name): <lib_dir>/<name with dots as slashes>.lua, text only, chunk name
 * "@lua/<...>.lua", run once and cached (Lua 5.1 semantics: a module that failed stays
 * marked, and a second require reports it). */
static int luavm_lua_require(lua_State *L)
{
    luavm_t *vm = luavm_of(L);
    const char *name = luaL_checkstring(L, 1);
    char rel[LUAVM_MAX_MODNAME + 8], path[4096], chunk[LUAVM_MAX_MODNAME + 24], msg[512];
    char *buf = NULL;
    size_t len = 0, i;
    int st;

    if (!luavm_modname_ok(name))
        return luaL_error(L, "invalid module name '%s'", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->loaded_ref);
    lua_getfield(L, -1, name);
    if (lua_touserdata(L, -1) == &luavm_loading_mark)
        return luaL_error(L, "loop or previous error loading module '%s'", name);
    if (!lua_isnil(L, -1))
        return 1;               /* loaded, or a host module (luavm_preload) */
    lua_pop(L, 1);
    if (vm->lib_dir == NULL)
        return luaL_error(L, "require is disabled in this VM");

    for (i = 0; name[i]; i++)
        rel[i] = name[i] == '.' ? '/' : name[i];
    rel[i] = '\0';
    snprintf(path, sizeof path, "%s/%s.lua", vm->lib_dir, rel);
    snprintf(chunk, sizeof chunk, "@lua/%s.lua", rel);
    if (luavm_read_file(path, &buf, &len, msg, sizeof msg) != 0)
        return luaL_error(L, "module '%s' not found: %s", name, msg);
    st = luavm_compile(L, buf, len, chunk);
    free(buf);
    if (st != 0)
        return lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
    lua_setfenv(L, -2);
    lua_pushlightuserdata(L, &luavm_loading_mark);
    lua_setfield(L, -3, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

/* collectgarbage("count") only: a policy may look at its memory, not drive the collector
 * (a full collection per call would be a cheap way around the time budget's spirit). */
static int luavm_lua_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: only \"count\" is allowed in policies");
    lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) + lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
}

static const char *const luavm_base_names[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "xpcall", "select", "tonumber",
    "tostring", "type", "unpack", "rawequal", "rawget", "rawlen", "setmetatable",
    "getmetatable", "_VERSION", NULL
};
static const char *const luavm_os_names[] = { "time", "clock", "date", NULL };

/* proxy = empty table whose metatable serves `copy` read-only and hides itself. Expects
 * the copy on top; replaces it with the proxy. */
static void luavm_freeze(lua_State *L, const char *libname)
{
    lua_newtable(L);                       /* copy proxy */
    lua_newtable(L);                       /* copy proxy mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, libname);
    lua_pushcclosure(L, luavm_lua_readonly, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Copy lib's fields into a new table: the listed ones, or all but `except`. Pushes it. */
static void luavm_copy_lib(lua_State *L, int lib, const char *const *names, const char *except)
{
    if (lib < 0)
        lib = lua_gettop(L) + lib + 1;   /* absolute: we push above it */
    lua_newtable(L);
    if (names) {
        for (; *names; names++) {
            lua_getfield(L, lib, *names);
            lua_setfield(L, -2, *names);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, lib)) {
        if (lua_type(L, -2) == LUA_TSTRING && except && strcmp(lua_tostring(L, -2), except) == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

static void luavm_open(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Build the environment (run under lua_cpcall so a memory error cannot panic). Opens only
 * base, string, table, math and os; io, debug, package, ffi and jit are never opened. */
static int luavm_env_init(lua_State *L)
{
    luavm_t *vm = lua_touserdata(L, 1);
    const char *const *n;
    int b, strcopy;

    luavm_open(L, luaopen_base, "");
    luavm_open(L, luaopen_string, LUA_STRLIBNAME);
    luavm_open(L, luaopen_table, LUA_TABLIBNAME);
    luavm_open(L, luaopen_math, LUA_MATHLIBNAME);
    luavm_open(L, luaopen_os, LUA_OSLIBNAME);
    lua_settop(L, 0);

    lua_newtable(L);                                   /* 1: backing table B */
    b = 1;
    for (n = luavm_base_names; *n; n++) {
        lua_getfield(L, LUA_GLOBALSINDEX, *n);
        lua_setfield(L, b, *n);                         /* nil (rawlen on 5.1) is a no-op */
    }
    lua_pushcfunction(L, luavm_lua_load);
    lua_setfield(L, b, "load");
    lua_pushcfunction(L, luavm_lua_require);
    lua_setfield(L, b, "require");
    lua_pushcfunction(L, luavm_lua_collectgarbage);
    lua_setfield(L, b, "collectgarbage");

    lua_getfield(L, LUA_GLOBALSINDEX, LUA_STRLIBNAME);  /* 2 */
    luavm_copy_lib(L, 2, NULL, "dump");                 /* 3: string copy */
    strcopy = 3;
    lua_pushvalue(L, strcopy);
    luavm_freeze(L, LUA_STRLIBNAME);
    lua_setfield(L, b, LUA_STRLIBNAME);
    /* Methods on string values go through the string metatable: point it at the copy
     * (no dump) and hide it from getmetatable(""). */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushvalue(L, strcopy);
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_settop(L, b);

    lua_getfield(L, LUA_GLOBALSINDEX, LUA_TABLIBNAME);
    luavm_copy_lib(L, -1, NULL, NULL);
    /* table.new(narray, nhash), LuaJIT's extension: a table sized for what goes in, one
     * allocation instead of one per doubling (the scheduler's per-node arrays). LuaJIT
     * registers it for require("table.new"), which the sandbox's require does not reach;
     * its allocations count against the cap like any other. */
    lua_getfield(L, LUA_REGISTRYINDEX, "_PRELOAD");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, LUA_TABLIBNAME ".new");
        if (lua_isfunction(L, -1)) {
            lua_pushliteral(L, LUA_TABLIBNAME ".new");
            lua_call(L, 1, 1);
            if (lua_isfunction(L, -1))
                lua_setfield(L, -3, "new");
        }
    }
    lua_settop(L, b + 2);
    luavm_freeze(L, LUA_TABLIBNAME);
    lua_setfield(L, b, LUA_TABLIBNAME);
    lua_settop(L, b);
    lua_getfield(L, LUA_GLOBALSINDEX, LUA_MATHLIBNAME);
    luavm_copy_lib(L, -1, NULL, NULL);
    luavm_freeze(L, LUA_MATHLIBNAME);
    lua_setfield(L, b, LUA_MATHLIBNAME);
    lua_settop(L, b);
    lua_getfield(L, LUA_GLOBALSINDEX, LUA_OSLIBNAME);
    luavm_copy_lib(L, -1, luavm_os_names, NULL);
    luavm_freeze(L, LUA_OSLIBNAME);
    lua_setfield(L, b, LUA_OSLIBNAME);
    lua_settop(L, b);

    /* B misses raise "undefined global"; B itself is never handed out. */
    lua_newtable(L);
    lua_pushcfunction(L, luavm_lua_undefined);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, b);

    /* E: the empty proxy policies see as their globals. Being empty, every write reaches
     * __newindex, including writes to names B already has. */
    lua_newtable(L);                                   /* 2: E */
    lua_newtable(L);
    lua_pushvalue(L, b);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luavm_lua_setglobal);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, b, "_G");

    /* The full libraries opened above stay reachable only from the old globals table:
     * make E the thread's globals so nothing holds them. */
    lua_pushvalue(L, -1);
    lua_replace(L, LUA_GLOBALSINDEX);
    vm->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    vm->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---------------------------------------------------------------- API ----------------- */

static int luavm_open_jit(lua_State *L)
{
    lua_pushcfunction(L, luaopen_jit);
    lua_call(L, 0, 0);
    return 0;
}

luavm_t *luavm_create(const luavm_opts_t *opts, char *err, size_t errlen)
{
    luavm_t *vm;
    struct sigevent sev;
    sigset_t set;

    pthread_once(&luavm_sig_once, luavm_sig_install);
    if (luavm_sig_err) {
        snprintf(err, errlen, "luavm: sigaction: %s", strerror(luavm_sig_err));
        return NULL;
    }
    vm = calloc(1, sizeof *vm);
    if (vm == NULL) {
        luavm_copy(err, errlen, "luavm: out of memory");
        return NULL;
    }
    vm->env_ref = vm->loaded_ref = vm->hooks_ref = LUA_NOREF;
    vm->blocks.next = vm->blocks.prev = &vm->blocks;
#ifdef LUAVM_CTX_PC
    vm->jit = !(opts && opts->no_jit);
#endif
    if (vm->jit)
        luavm_objtab_refresh();
    vm->budget_ms = opts && opts->budget_ms ? opts->budget_ms : LUAVM_DEFAULT_BUDGET_MS;
    vm->limit = opts && opts->mem_limit_bytes ? opts->mem_limit_bytes : LUAVM_DEFAULT_MEM_LIMIT;
    snprintf(vm->chunk, sizeof vm->chunk, "(no policy)");
    if (opts && opts->lib_dir && (vm->lib_dir = strdup(opts->lib_dir)) == NULL) {
        luavm_copy(err, errlen, "luavm: out of memory");
        goto failed;
    }

    /* A thread that blocks the signal (threads often start with all signals blocked)
     * would never see its deadline. */
    sigemptyset(&set);
    sigaddset(&set, LUAVM_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    vm->tid = luavm_gettid();
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = LUAVM_SIGNAL;
    sev.sigev_value.sival_ptr = vm;
    sev._sigev_un._tid = vm->tid;     /* sigev_notify_thread_id: glibc 2.36 lacks the macro */
    if (timer_create(CLOCK_MONOTONIC, &sev, &vm->timer) != 0) {
        snprintf(err, errlen, "luavm: timer_create: %s", strerror(errno));
        goto failed;
    }
    vm->have_timer = 1;

    /* LuaJIT builds without GC64 refuse custom allocators on x64; we need ours for the cap. */
    vm->L = lua_newstate(luavm_alloc, vm);
    if (vm->L == NULL) {
        luavm_copy(err, errlen, "luavm: lua_newstate refused the allocator "
                   "(LuaJIT built without GC64?) or out of memory");
        goto failed;
    }
    /* luaopen_jit initializes the compiler (CPU features, default parameters); without it
     * LuaJIT never records a trace. It sets globals of the raw state only: policies run in
     * the sandbox environment and never see `jit`. */
    if (vm->jit && lua_cpcall(vm->L, luavm_open_jit, NULL) != 0) {
        luavm_copy(err, errlen, "luavm: cannot start the JIT compiler");
        goto failed;
    }
    /* Compiled traces never check the hook mask: with the JIT on, the budget relies on
     * abandoning the VM (luavm_on_signal); without it, on the hook alone. */
    if (!luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | (vm->jit ? LUAJIT_MODE_ON : LUAJIT_MODE_OFF))) {
        luavm_copy(err, errlen, "luavm: cannot turn the JIT off");
        goto failed;
    }
    if (lua_cpcall(vm->L, luavm_env_init, vm) != 0) {
        snprintf(err, errlen, "luavm: building the environment: %s",
                 lua_isstring(vm->L, -1) ? lua_tostring(vm->L, -1) : "?");
        goto failed;
    }
    lua_settop(vm->L, 0);
    lua_gc(vm->L, LUA_GCCOLLECT, 0);
    return vm;

failed:
    luavm_free(vm);
    return NULL;
}

void luavm_free(luavm_t *vm)
{
    if (vm == NULL)
        return;
    if (vm->L)
        lua_close(vm->L);          /* runs the hosts' __gc: the discard list is not needed */
    while (vm->discards) {
        luavm_discard_t *d = vm->discards;
        vm->discards = d->next;
        free(d);
    }
    free(vm->source);
    if (vm->have_timer)
        timer_delete(vm->timer);
    free(vm->lib_dir);
    free(vm);
}

/* Compile buf as the policy (chunkname set in vm->chunk already) and run it. */
static int luavm_load_source(luavm_t *vm, const char *buf, size_t len, const char *chunkname,
                             char *err, size_t errlen)
{
    lua_State *L = vm->L;
    int st;

    vm->enforce = 1;
    vm->mem_refused = 0;
    st = luavm_compile(L, buf, len, chunkname);
    vm->enforce = 0;
    if (st != 0) {
        luavm_seterr(vm, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "compile error");
        lua_pop(L, 1);
        luavm_copy(err, errlen, vm->err);
        return st == LUA_ERRMEM ? LUAVM_NOMEM : LUAVM_ERROR;
    }
    free(vm->source);
    vm->source = malloc(len + 1);
    if (vm->source) {
        memcpy(vm->source, buf, len);
        vm->source[len] = '\0';
        vm->source_len = len;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
    lua_setfenv(L, -2);
    vm->hook = NULL;
    st = luavm_run(vm, 0, 1);
    if (st != LUAVM_OK) {
        luavm_copy(err, errlen, vm->err);
        return st;
    }
    if (!lua_istable(L, -1)) {
        luavm_seterr(vm, "%s: the policy must return a table of hooks (got a %s)", vm->chunk,
                     luaL_typename(L, -1));
        lua_pop(L, 1);
        luavm_copy(err, errlen, vm->err);
        return LUAVM_ERROR;
    }
    vm->hooks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luavm_copy(err, errlen, "");
    return LUAVM_OK;
}

/* Checks shared by the two loaders; 0, or -1 with vm->err set. */
static int luavm_load_check(luavm_t *vm, const char *chunkname)
{
    if (vm->dead) {
        luavm_seterr(vm, "luavm: this VM was discarded");
        return -1;
    }
    if (vm->hooks_ref != LUA_NOREF) {
        luavm_seterr(vm, "luavm: a policy is already loaded in this VM");
        return -1;
    }
    if (vm->running || luavm_gettid() != vm->tid) {
        luavm_seterr(vm, "luavm: load from inside a call or from another thread");
        return -1;
    }
    luavm_copy(vm->chunk, sizeof vm->chunk,
               chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname);
    return 0;
}

int luavm_load_file(luavm_t *vm, const char *path, const char *chunkname,
                    char *err, size_t errlen)
{
    char msg[512], namebuf[300];
    char *buf = NULL;
    size_t len = 0;
    int st;

    if (chunkname == NULL) {
        snprintf(namebuf, sizeof namebuf, "@%s", path);
        chunkname = namebuf;
    }
    if (luavm_load_check(vm, chunkname) != 0)
        goto failed;
    if (luavm_read_file(path, &buf, &len, msg, sizeof msg) != 0) {
        luavm_seterr(vm, "%s", msg);
        goto failed;
    }
    st = luavm_load_source(vm, buf, len, chunkname, err, errlen);
    free(buf);
    return st;

failed:
    luavm_copy(err, errlen, vm->err);
    return LUAVM_ERROR;
}

int luavm_load_buffer(luavm_t *vm, const char *buf, size_t len, const char *chunkname,
                      char *err, size_t errlen)
{
    if (buf == NULL || chunkname == NULL) {
        luavm_seterr(vm, "luavm_load_buffer: no source");
        luavm_copy(err, errlen, vm->err);
        return LUAVM_ERROR;
    }
    if (luavm_load_check(vm, chunkname) != 0) {
        luavm_copy(err, errlen, vm->err);
        return LUAVM_ERROR;
    }
    return luavm_load_source(vm, buf, len, chunkname, err, errlen);
}

const char *luavm_source(const luavm_t *vm, size_t *len)
{
    if (len)
        *len = vm->source ? vm->source_len : 0;
    return vm->source;
}

int luavm_dead(const luavm_t *vm)
{
    return vm->dead;
}

int luavm_jit(const luavm_t *vm)
{
    return vm->jit;
}

int luavm_on_discard(lua_State *L, void (*fn)(void *priv), void *priv)
{
    void *ud = NULL;
    if (lua_getallocf(L, &ud) != luavm_alloc || ud == NULL)
        return 0;                      /* not a luavm state: lua_close runs __gc as usual */
    luavm_t *vm = ud;
    luavm_discard_t *d = malloc(sizeof(*d));
    if (d == NULL)
        return -1;
    d->fn = fn;
    d->priv = priv;
    d->next = vm->discards;
    vm->discards = d;
    return 0;
}

void luavm_forget_discard(lua_State *L, void *priv)
{
    void *ud = NULL;
    if (lua_getallocf(L, &ud) != luavm_alloc || ud == NULL)
        return;
    luavm_t *vm = ud;
    for (luavm_discard_t **pd = &vm->discards; *pd; pd = &(*pd)->next) {
        if ((*pd)->priv == priv) {
            luavm_discard_t *d = *pd;
            *pd = d->next;
            free(d);
            return;
        }
    }
}

/* The hook's function, pushed; rawget so a policy's metatable on its hook table cannot run
 * code outside the budget. Pushes nothing and returns 0 if there is none. */
static int luavm_push_hook(luavm_t *vm, const char *hook)
{
    lua_State *L = vm->L;
    if (vm->dead || vm->hooks_ref == LUA_NOREF || hook == NULL)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->hooks_ref);
    lua_pushstring(L, hook);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

int luavm_policy_field(luavm_t *vm, const char *field, double *out)
{
    lua_State *L = vm->L;
    int type;
    if (vm->dead || vm->running || vm->hooks_ref == LUA_NOREF || field == NULL)
        return LUA_TNIL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->hooks_ref);
    lua_pushstring(L, field);
    lua_rawget(L, -2);
    type = lua_type(L, -1);
    if (type == LUA_TNUMBER && out)
        *out = lua_tonumber(L, -1);
    lua_pop(L, 2);
    return type;
}

typedef struct luavm_preload_s {
    luavm_t      *vm;
    const char   *name;
    lua_CFunction open;
    void         *upvalue;
} luavm_preload_t;

/* Under lua_cpcall: loaded[name] = open(name), frozen when it is a table. */
static int luavm_preload_run(lua_State *L)
{
    luavm_preload_t *pl = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, pl->vm->loaded_ref);   /* 1: loaded */
    lua_pushlightuserdata(L, pl->upvalue);
    lua_pushcclosure(L, pl->open, 1);
    lua_pushstring(L, pl->name);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1))
        luavm_freeze(L, pl->name);
    else if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_setfield(L, 1, pl->name);
    return 0;
}

int luavm_preload(luavm_t *vm, const char *name, lua_CFunction open, void *upvalue)
{
    luavm_preload_t pl = { vm, name, open, upvalue };
    lua_State *L = vm->L;
    int top = lua_gettop(L);

    if (vm->dead) {
        luavm_seterr(vm, "luavm: this VM was discarded");
        return LUAVM_ERROR;
    }
    if (name == NULL || open == NULL || !luavm_modname_ok(name)) {
        luavm_seterr(vm, "luavm_preload: invalid module name '%s'", name ? name : "(null)");
        return LUAVM_ERROR;
    }
    if (vm->running || luavm_gettid() != vm->tid) {
        luavm_seterr(vm, "luavm_preload: from inside a call or from another thread");
        return LUAVM_ERROR;
    }
    if (lua_cpcall(L, luavm_preload_run, &pl) != 0) {
        luavm_seterr(vm, "luavm_preload %s: %s", name,
                     lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_settop(L, top);
        return LUAVM_ERROR;
    }
    lua_settop(L, top);
    vm->err[0] = '\0';
    return LUAVM_OK;
}

int luavm_has_hook(luavm_t *vm, const char *hook)
{
    if (vm->dead || vm->running || !luavm_push_hook(vm, hook))
        return 0;
    lua_pop(vm->L, 1);
    return 1;
}

lua_State *luavm_state(luavm_t *vm)
{
    return vm->L;
}

int luavm_call(luavm_t *vm, const char *hook, int nargs, int nresults)
{
    lua_State *L = vm->L;

    if (vm->dead) {
        luavm_seterr(vm, "%s: this VM was discarded after a call overran its budget", vm->chunk);
        return LUAVM_ERROR;
    }
    if (nargs < 0 || lua_gettop(L) < nargs) {
        luavm_seterr(vm, "luavm_call: %d arguments expected on the stack", nargs);
        return LUAVM_ERROR;
    }
    if (vm->running || luavm_gettid() != vm->tid) {
        luavm_seterr(vm, "luavm_call: nested call or call from another thread");
        lua_pop(L, nargs);
        return LUAVM_ERROR;
    }
    if (vm->hooks_ref == LUA_NOREF) {
        luavm_seterr(vm, "luavm_call: no policy loaded");
        lua_pop(L, nargs);
        return LUAVM_ERROR;
    }
    if (!lua_checkstack(L, 8) || !luavm_push_hook(vm, hook)) {
        luavm_seterr(vm, "%s: policy has no hook '%s'", vm->chunk, hook ? hook : "(null)");
        lua_pop(L, nargs);
        return LUAVM_NOHOOK;
    }
    lua_insert(L, -(nargs + 1));
    vm->hook = hook;
    {
        int st = luavm_run(vm, nargs, nresults);
        vm->hook = NULL;
        return st;
    }
}

int luavm_call_function(luavm_t *vm, const char *name, int nargs, int nresults)
{
    lua_State *L = vm->L;
    if (vm->dead) {
        luavm_seterr(vm, "%s: this VM was discarded after a call overran its budget", vm->chunk);
        return LUAVM_ERROR;
    }    if (nargs < 0 || lua_gettop(L) < nargs + 1 || !lua_isfunction(L, -(nargs + 1))) {
        luavm_seterr(vm, "luavm_call_function: a function and %d arguments expected", nargs);
        return LUAVM_ERROR;
    }
    if (vm->running || luavm_gettid() != vm->tid || !lua_checkstack(L, 8)) {
        luavm_seterr(vm, "luavm_call_function: nested call or call from another thread");
        lua_pop(L, nargs + 1);
        return LUAVM_ERROR;
    }
    vm->hook = name ? name : "(function)";
    int st = luavm_run(vm, nargs, nresults);
    vm->hook = NULL;
    return st;
}

int luavm_require(luavm_t *vm, const char *module)
{
    lua_State *L = vm->L;
    if (vm->dead || vm->env_ref == LUA_NOREF || !module || !lua_checkstack(L, 4)) {
        luavm_seterr(vm, "luavm_require: no environment");
        return LUAVM_ERROR;
    }
    /* E (empty proxy) -> its metatable's __index, B, holds require: read it raw, so a
     * missing name cannot raise outside a protected call. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
    if (!lua_getmetatable(L, -1)) {
        lua_pop(L, 1);
        luavm_seterr(vm, "luavm_require: no environment");
        return LUAVM_ERROR;
    }
    lua_getfield(L, -1, "__index");
    lua_pushliteral(L, "require");
    lua_rawget(L, -2);
    lua_replace(L, -4);
    lua_pop(L, 2);
    lua_pushstring(L, module);
    return luavm_call_function(vm, "require", 1, 1);
}

int luavm_push_policy(luavm_t *vm)
{
    if (vm->dead || vm->hooks_ref == LUA_NOREF)
        return 0;
    lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vm->hooks_ref);
    return 1;
}

const char *luavm_errmsg(const luavm_t *vm)
{
    return vm->err;
}

const char *luavm_traceback(const luavm_t *vm)
{
    return vm->trace;
}

size_t luavm_mem_used(const luavm_t *vm)
{
    return vm->used;
}

const char *luavm_status_name(int status)
{
    switch (status) {
    case LUAVM_OK:      return "ok";
    case LUAVM_ERROR:   return "error";
    case LUAVM_TIMEOUT: return "timeout";
    case LUAVM_NOMEM:   return "nomem";
    case LUAVM_NOHOOK:  return "nohook";
    default:            return "unknown";
    }
}
