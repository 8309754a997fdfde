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
#include "scheduler.h"
#include "store.h"
#include "controllers.h"
#include "plugins.h"
#include "svcalloc.h"
#include "watch.h"

/* The first line of path, trimmed, into out. 0, or -1 with a message on stderr. */
static int read_token_file(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)outlen, f)) {
        fprintf(stderr, "berth server: cannot read --agent-token-file %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    if (!*out || strpbrk(out, " \t")) {
        fprintf(stderr, "berth server: --agent-token-file %s: the first line must be the token\n", path);
        return -1;
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth server [--redis URL] [--listen HOST:PORT] [--watch-window N] [--log-level LEVEL]\n"
            "                    [--no-scheduler] [--no-controllers]\n"
            "                    [--no-list-cache] [--list-cache-refresh MS]\n"
            "                    [--policies DIR] [--lua DIR]\n"
            "                    [--plugins DIR]\n"
            "                    [--controller-resync-seconds N] [--node-monitor-grace-period S]\n"
            "                    [--default-toleration-seconds S]\n"
            "                    [--service-cluster-ip-range CIDR] [--service-node-port-range A-B]\n"
            "                    [--agent-token-file FILE] [--metrics-resolution S]\n"
            "\n"
            "Serve the Kubernetes API from a Redis store.\n"
            "\n"
            "  --redis URL         redis://HOST:PORT/DB, unix:///path/redis.sock, or\n"
            "                      redis-sentinel://HOST:PORT,.../MASTER[/DB] (default redis://127.0.0.1:6379/0)\n"
            "  --listen ADDR       address to serve on (default 127.0.0.1:6443; plain HTTP)\n"
            "  --watch-window N    events kept per resource for watches to resume from (default 100000)\n"
            "  --log-level LEVEL   error, warn, info or debug (default info)\n"
            "  --no-list-cache     answer lists from Redis, not from the server's copy of each\n"
            "                      listed kind (docs/architecture.md, the list cache)\n"
            "  --list-cache-refresh MS  catch copies in use up this often (default 100; 0: only\n"
            "                      when listed)\n"
            "  --no-scheduler      do not run the scheduler in this process\n"
            "  --no-controllers    do not run the controllers (policies/controllers/) in this process\n"
            "  --controller-resync-seconds N  sync every controller's objects this often (default 60)\n"
            "  --node-monitor-grace-period S  a node silent this long is NotReady/Unknown (default 40)\n"
            "  --default-toleration-seconds S pods stay this long on a not-ready node (default 300)\n"
            "  --policies DIR      scheduling policies (default: policies/ beside bin/)\n"
            "  --lua DIR           the Lua library policies use (default: lua/ beside bin/)\n"
            "  --agent-token-file FILE  the bearer token node agents require (their --token-file):\n"
            "                      sent on logs, exec, attach, port-forward and stats requests to them\n"
            "  --metrics-resolution S  scrape the agents' /stats/summary this often and serve\n"
            "                      metrics.k8s.io for kubectl top (default 15; 0: off, docs/metrics.md)\n"
            "  --plugins DIR       plugins: plugins/<name>/plugin.lua (default: plugins/ beside bin/)\n"
            "  --service-cluster-ip-range CIDR  Service cluster IPs (default 127.77.0.0/16)\n"
            "  --service-node-port-range A-B    Service node ports (default 30000-32767)\n");
}

typedef struct server_ctx_s {
    api_server_t api;
    store_t *store;
    watch_hub_t *hub;
    struct event_base *base;
    scheduler_t *scheduler;
    controllers_t *controllers;
    const char *plugin_dir, *lib_dir;
    unsigned long plugins_sig;     /* plugins_signature() when the kinds were last synced */
    struct event *plugins_timer;
} server_ctx_t;

/* How often the plugin files are checked for kinds to add, change or retire. */
#define PLUGINS_POLL_MS 1000

static void on_kind_retired(const kind_t *k, void *priv)
{
    server_ctx_t *ctx = priv;
    char msg[300];
    snprintf(msg, sizeof(msg), "%s%s%s %s is no longer served as it was (its plugin changed)",
             k->group, *k->group ? "/" : "", k->version, k->plural);
    watch_hub_drop_kind(ctx->hub, k, msg);
}

/* Serve the plugins' kinds as their files now define them (plugins.h). */
static void sync_plugin_kinds(server_ctx_t *ctx)
{
    ctx->plugins_sig = plugins_signature(ctx->plugin_dir);
    plugins_sync_kinds(ctx->plugin_dir, ctx->lib_dir, on_kind_retired, ctx);
}

static void on_plugins_poll(evutil_socket_t fd, short what, void *arg)
{
    server_ctx_t *ctx = arg;
    if (plugins_signature(ctx->plugin_dir) != ctx->plugins_sig)
        sync_plugin_kinds(ctx);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_ctx_t *ctx = arg;
    log_info("signal %d: shutting down", (int)sig);
    event_base_loopexit(ctx->base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    server_ctx_t *ctx = arg;
    log_info("SIGHUP: reloading policies and plugins");
    sync_plugin_kinds(ctx);
    scheduler_reload(ctx->scheduler);
    controllers_reload(ctx->controllers);
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
    /* Rebuild the Service IP/port tables from the stored Services (kube's repair). */
    svcalloc_repair(ctx->store);
}

int server_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "redis", required_argument, NULL, 'r' },
        { "listen", required_argument, NULL, 'l' },
        { "watch-window", required_argument, NULL, 'w' },
        { "log-level", required_argument, NULL, 'L' },
        { "no-scheduler", no_argument, NULL, 'S' },
        { "no-controllers", no_argument, NULL, 'K' },
        { "no-list-cache", no_argument, NULL, 'M' },
        { "list-cache-refresh", required_argument, NULL, 'F' },
        { "controller-resync-seconds", required_argument, NULL, 'R' },
        { "node-monitor-grace-period", required_argument, NULL, 'G' },
        { "default-toleration-seconds", required_argument, NULL, 'T' },
        { "policies", required_argument, NULL, 'p' },
        { "lua", required_argument, NULL, 'u' },
        { "plugins", required_argument, NULL, 'g' },
        { "service-cluster-ip-range", required_argument, NULL, 'C' },
        { "service-node-port-range", required_argument, NULL, 'N' },
        { "agent-token-file", required_argument, NULL, 'A' },
        { "metrics-resolution", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *redis_url = "redis://127.0.0.1:6379/0", *listen_addr = "127.0.0.1:6443";
    long window = 100000;
    unsigned refresh_ms = 100;
    int run_scheduler = 1, run_controllers = 1, list_cache = 1, resync_seconds = 0, grace_seconds = 0;
    int toleration_seconds = 0, metrics_resolution = 15;
    char pdir[4096], ldir[4096], self_url[512];
    const char *policy_dir = NULL, *lib_dir = NULL, *svc_cidr = NULL, *svc_ports = NULL;
    const char *plugin_dir = NULL, *agent_token_file = NULL;
    char gdir[4096], agent_token[512] = "";
    server_ctx_t ctx;
    char err[256];
    int c, rc = 1;
    struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL;

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
        case 'S': run_scheduler = 0; break;
        case 'K': run_controllers = 0; break;
        case 'M': list_cache = 0; break;
        case 'F': {
            char *end;
            long ms = strtol(optarg, &end, 10);
            if (*end || ms < 0 || ms > 60000) {
                fprintf(stderr, "berth server: --list-cache-refresh must be 0-60000 (ms)\n");
                return 2;
            }
            refresh_ms = (unsigned)ms;
            break;
        }
        case 'R': resync_seconds = atoi(optarg); break;
        case 'G': grace_seconds = atoi(optarg); break;
        case 'T': toleration_seconds = atoi(optarg); break;
        case 'p': policy_dir = optarg; break;
        case 'u': lib_dir = optarg; break;
        case 'g': plugin_dir = optarg; break;
        case 'C': svc_cidr = optarg; break;
        case 'N': svc_ports = optarg; break;
        case 'A': agent_token_file = optarg; break;
        case 'm': {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || end == optarg || s < 0 || s > 3600) {
                fprintf(stderr, "berth server: --metrics-resolution must be 0-3600 (seconds)\n");
                return 2;
            }
            metrics_resolution = (int)s;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berth server: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (svcalloc_configure(svc_cidr, svc_ports, err, sizeof(err)) != 0) {
        fprintf(stderr, "berth server: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!policy_dir)
        scheduler_default_dir("policies", pdir, sizeof(pdir)), policy_dir = pdir;
    if (!lib_dir)
        scheduler_default_dir("lua", ldir, sizeof(ldir)), lib_dir = ldir;
    if (!plugin_dir)
        scheduler_default_dir("plugins", gdir, sizeof(gdir)), plugin_dir = gdir;
    if (kinds_init() != 0)
        return 1;
    /* Kinds plugins add are served like built-in ones (a plugin that fails is skipped), and
     * follow their files while the server runs. */
    ctx.plugin_dir = plugin_dir;
    ctx.lib_dir = lib_dir;
    ctx.plugins_sig = plugins_signature(plugin_dir);
    plugins_register_kinds(plugin_dir, lib_dir);
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
    if (agent_token_file) {
        if (read_token_file(agent_token_file, agent_token, sizeof(agent_token)) != 0)
            goto out;
        ctx.api.agent_token = agent_token;
    }
    if (list_cache && !(ctx.api.lists = listcache_create(ctx.base, ctx.store, refresh_ms)))
        goto out;
    if (metrics_resolution && !(ctx.api.metrics = api_metrics_create(&ctx.api, metrics_resolution)))
        goto out;
    store_set_state_cb(ctx.store, on_store_state, &ctx);
    sigint = evsignal_new(ctx.base, SIGINT, on_signal, &ctx);
    sigterm = evsignal_new(ctx.base, SIGTERM, on_signal, &ctx);
    sighup = evsignal_new(ctx.base, SIGHUP, on_hup, &ctx);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sighup, NULL);
    ctx.plugins_timer = event_new(ctx.base, -1, EV_PERSIST, on_plugins_poll, &ctx);
    if (ctx.plugins_timer) {
        struct timeval tv = { PLUGINS_POLL_MS / 1000, (PLUGINS_POLL_MS % 1000) * 1000 };
        event_add(ctx.plugins_timer, &tv);
    }
    {
        /* The scheduler and controllers are API clients like any other, here of this very
         * server. */
        const char *colon = strrchr(listen_addr, ':');
        int wildcard = !strncmp(listen_addr, "0.0.0.0:", 8) || !strncmp(listen_addr, "[::]:", 5) ||
                       listen_addr[0] == ':';
        snprintf(self_url, sizeof(self_url), "http://%s%s",
                 wildcard ? "127.0.0.1" : "", wildcard && colon ? colon : listen_addr);
    }
    if (run_controllers) {
        controllers_opts_t co = { .server_url = self_url, .policy_dir = policy_dir,
                                  .lib_dir = lib_dir, .plugin_dir = plugin_dir,
                                  .resync_seconds = resync_seconds,
                                  .node_monitor_grace_period = grace_seconds,
                                  .default_toleration_seconds = toleration_seconds };
        ctx.controllers = controllers_create(ctx.base, &co, err, sizeof(err));
        if (!ctx.controllers) {
            fprintf(stderr, "berth server: controllers: %s\n", err);
            goto out;
        }
    }
    if (run_scheduler) {
        scheduler_opts_t so = { self_url, policy_dir, lib_dir, 0, 0 };
        ctx.scheduler = scheduler_create(ctx.base, &so, err, sizeof(err));
        if (!ctx.scheduler) {
            fprintf(stderr, "berth server: scheduler: %s\n", err);
            goto out;
        }
    }
    log_info("serving the Kubernetes API on http://%s (store %s)", listen_addr, redis_url);
    event_base_dispatch(ctx.base);
    rc = 0;
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (sighup)
        event_free(sighup);
    if (ctx.plugins_timer)
        event_free(ctx.plugins_timer);
    scheduler_free(ctx.scheduler);
    controllers_free(ctx.controllers);
    watch_hub_free(ctx.hub);
    /* The store before the HTTP server: freeing the store calls back every request still
     * waiting on Redis, which answers it; evhttp_free then frees those requests. The other
     * way round the callbacks answered requests evhttp had already freed. */
    store_free(ctx.store);
    api_server_release(&ctx.api);
    if (ctx.base)
        event_base_free(ctx.base);
    kinds_release();
    metrics_release();
    return rc;
}
