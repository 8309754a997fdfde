/* server.c: `berth server`: the API server process (flags, event loop, signals). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "kinds.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "watch.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth server [--redis URL] [--listen HOST:PORT] [--watch-window N] [--log-level LEVEL]\n"
            "\n"
            "Serve the Kubernetes API from a Redis store.\n"
            "\n"
            "  --redis URL         redis://HOST:PORT/DB or unix:///path/redis.sock (default redis://127.0.0.1:6379/0)\n"
            "  --listen ADDR       address to serve on (default 127.0.0.1:6443; plain HTTP)\n"
            "  --watch-window N    events kept per resource for watches to resume from (default 100000)\n"
            "  --log-level LEVEL   error, warn, info or debug (default info)\n");
}

typedef struct server_ctx_s {
    api_server_t api;
    store_t *store;
    watch_hub_t *hub;
    struct event_base *base;
} server_ctx_t;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_ctx_t *ctx = arg;
    log_info("signal %d: shutting down", (int)sig);
    event_base_loopexit(ctx->base, NULL);
}

static void on_store_state(int up, void *priv)
{
    server_ctx_t *ctx = priv;
    if (!up)
        return;
    /* Every time Redis (re)appears: it may be a fresh one, so make sure the namespaces
     * every cluster has exist, and pick up pods whose graceful deletion is running. */
    api_ensure_namespaces(&ctx->api);
    api_reaper_scan(&ctx->api);
}

int server_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "redis", required_argument, NULL, 'r' },
        { "listen", required_argument, NULL, 'l' },
        { "watch-window", required_argument, NULL, 'w' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *redis_url = "redis://127.0.0.1:6379/0", *listen_addr = "127.0.0.1:6443";
    long window = 100000;
    server_ctx_t ctx;
    char err[256];
    int c, rc = 1;
    struct event *sigint = NULL, *sigterm = NULL;

    memset(&ctx, 0, sizeof(ctx));
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': redis_url = optarg; break;
        case 'l': listen_addr = optarg; break;
        case 'w':
            window = strtol(optarg, NULL, 10);
            if (window < 1) {
                fprintf(stderr, "berth server: --watch-window must be a positive number\n");
                return 2;
            }
            break;
        case 'L': log_set_level_name(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berth server: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (kinds_init() != 0)
        return 1;
    ctx.base = event_base_new();
    if (!ctx.base)
        goto out;
    ctx.store = store_create(ctx.base, redis_url, window, err, sizeof(err));
    if (!ctx.store) {
        fprintf(stderr, "berth server: %s\n", err);
        goto out;
    }
    ctx.hub = watch_hub_create(ctx.base, ctx.store, redis_url);
    if (!ctx.hub || api_server_init(&ctx.api, ctx.base, ctx.store, ctx.hub, listen_addr) != 0)
        goto out;
    store_set_state_cb(ctx.store, on_store_state, &ctx);
    sigint = evsignal_new(ctx.base, SIGINT, on_signal, &ctx);
    sigterm = evsignal_new(ctx.base, SIGTERM, on_signal, &ctx);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    log_info("serving the Kubernetes API on http://%s (store %s)", listen_addr, redis_url);
    event_base_dispatch(ctx.base);
    rc = 0;
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    watch_hub_free(ctx.hub);
    api_server_release(&ctx.api);
    store_free(ctx.store);
    if (ctx.base)
        event_base_free(ctx.base);
    kinds_release();
    metrics_release();
    return rc;
}
