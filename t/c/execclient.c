/* t/c/execclient.c: engine/execclient.c against a live cluster, run by t/6200-exec.t (through
 * test_external) with BERTH_URL set and EXEC_POD naming a running pod in "default" whose
 * containers are "main" (env WHO=main) and "side" (env WHO=side). Without them it skips.
 * Checks: output and exit code, stderr kept apart, a non-zero exit code, stdin larger than
 * one frame, the first container when none is named, the server's errors for a missing pod
 * and a missing container, the timeout. */
#include <stdlib.h>
#include <string.h>

#include "execclient.h"
#include "kubeclient.h"
#include "tap.h"

typedef struct buf_s {
    char *data;
    size_t len;
} buf_t;

static int collect(const char *data, size_t len, void *priv)
{
    buf_t *b = priv;
    char *n = realloc(b->data, b->len + len + 1);
    if (!n)
        return 1;
    b->data = n;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

typedef struct run_s {
    buf_t out, err;
    int code, rc;
    char errstr[1024];
} run_t;

static int collect_err(const char *data, size_t len, void *priv)
{
    return collect(data, len, &((run_t *)priv)->err);
}

static int collect_out(const char *data, size_t len, void *priv)
{
    return collect(data, len, &((run_t *)priv)->out);
}

static void run(kubeclient_t *kc, run_t *r, const char *pod, const char *container,
                char *const *cmd, const char *in, size_t inlen, int timeout)
{
    execclient_opts_t o;
    memset(r, 0, sizeof(*r));
    memset(&o, 0, sizeof(o));
    o.pod = pod;
    o.container = container;
    o.command = cmd;
    o.stdin_data = in;
    o.stdin_len = inlen;
    o.timeout_seconds = timeout;
    o.on_stdout = collect_out;
    o.on_stderr = collect_err;
    o.priv = r;
    r->rc = execclient_run(kc, &o, &r->code, r->errstr, sizeof(r->errstr));
    if (r->rc != 0)
        diag("execclient_run: %s", r->errstr);
}

static void run_free(run_t *r)
{
    free(r->out.data);
    free(r->err.data);
}

int main(void)
{
    const char *url = getenv("BERTH_URL"), *pod = getenv("EXEC_POD");
    char err[512];
    run_t r;
    if (!url || !pod) {
        /* Only t/6200-exec.t runs this, with both set: anything else is a broken setup. */
        printf("Bail out! BERTH_URL and EXEC_POD are not set (run by t/6200-exec.t)\n");
        return 1;
    }
    kubeclient_opts_t ko = { url, NULL, NULL, "default", 0 };
    kubeclient_t *kc = kubeclient_open(&ko, err, sizeof(err));
    if (!kc) {
        printf("Bail out! kubeclient_open: %s\n", err);
        return 1;
    }

    char *echo[] = { "echo", "hello", "world", NULL };
    run(kc, &r, pod, "main", echo, NULL, 0, 20);
    is_int(r.rc, 0, "echo runs");
    is_int(r.code, 0, "echo exits 0");
    is_str(r.out.data, "hello world\n", "echo's output arrives on stdout");
    ok(r.err.len == 0, "nothing on stderr");
    run_free(&r);

    char *fail[] = { "sh", "-c", "echo to-out; echo to-err >&2; exit 3", NULL };
    run(kc, &r, pod, "side", fail, NULL, 0, 20);
    is_int(r.rc, 0, "a failing command still runs to its end");
    is_int(r.code, 3, "its exit code is 3");
    is_str(r.out.data, "to-out\n", "stdout");
    is_str(r.err.data, "to-err\n", "stderr apart from stdout");
    run_free(&r);

    size_t n = 300000;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    char *cat[] = { "cat", NULL };
    run(kc, &r, pod, "main", cat, in, n, 30);
    is_int(r.rc, 0, "cat with stdin runs");
    is_int(r.code, 0, "cat ends once stdin is closed");
    ok(r.out.len == n && r.out.data && !memcmp(r.out.data, in, n),
       "300 kB of stdin come back unchanged (%zu bytes)", r.out.len);
    run_free(&r);
    free(in);

    char *who[] = { "sh", "-c", "echo $WHO", NULL };
    run(kc, &r, pod, NULL, who, NULL, 0, 20);
    is_int(r.rc, 0, "no container named: runs");
    is_str(r.out.data, "main\n", "in the first container");
    run_free(&r);
    run(kc, &r, pod, "side", who, NULL, 0, 20);
    is_str(r.out.data, "side\n", "-c side runs in side");
    run_free(&r);

    run(kc, &r, "no-such-pod", "main", echo, NULL, 0, 20);
    ok(r.rc == -1 && strstr(r.errstr, "pods \"no-such-pod\" not found"), "a missing pod: %s", r.errstr);
    run_free(&r);
    run(kc, &r, "no-such-pod", NULL, echo, NULL, 0, 20);
    ok(r.rc == -1 && strstr(r.errstr, "not found"), "a missing pod, no container named: %s", r.errstr);
    run_free(&r);

    run(kc, &r, pod, "nosuch", echo, NULL, 0, 20);
    ok(r.rc == -1 && strstr(r.errstr, "container nosuch is not valid for pod"),
       "a missing container: %s", r.errstr);
    run_free(&r);

    char *slow[] = { "sleep", "5", NULL };
    run(kc, &r, pod, "main", slow, NULL, 0, 1);
    ok(r.rc == -1 && strstr(r.errstr, "timed out"), "the timeout bounds the call: %s", r.errstr);
    run_free(&r);

    kubeclient_free(kc);
    return done_testing();
}
