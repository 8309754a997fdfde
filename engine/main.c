/* main.c: bin/berth, one binary with subcommands. */
#include <stdio.h>
#include <string.h>

int server_main(int argc, char **argv);
int scheduler_main(int argc, char **argv);
int controllers_main(int argc, char **argv);
int agent_main(int argc, char **argv);
int proxy_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int up_main(int argc, char **argv);
int run_main(int argc, char **argv);

#include "cli.h"

/* The CLI verbs (cli_*.c), kubectl's names. */
static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} verbs[] = {
    { "get", cli_get_main },         { "describe", cli_describe_main },
    { "logs", cli_logs_main },       { "version", cli_version_main },
    { "apply", cli_apply_main },     { "create", cli_create_main },
    { "delete", cli_delete_main },   { "scale", cli_scale_main },
    { "rollout", cli_rollout_main }, { "wait", cli_wait_main },
    { "exec", cli_exec_main },       { "top", cli_top_main },
};

#define BERTH_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth <command> [options]\n"
            "\n"
            "cluster commands:\n"
            "  up         an all-in-one cluster: Redis, API server, scheduler, controllers,\n"
            "             node agents and the proxy, with a kubeconfig under --data-dir\n"
            "  run        run SCRIPT.lua [ARGS...]: an operations script against the cluster\n"
            "\n"
            "like kubectl (--server, --kubeconfig, -n as kubectl has them):\n"
            "  get, describe, logs, exec, top, apply, create, delete, scale, rollout status, wait,\n"
            "  version\n"
            "\n"
            "components:\n"
            "  server     serve the Kubernetes API from a Redis store (and schedule pods)\n"
            "  scheduler  place pending pods with Lua policies, against a server\n"
            "  controllers  run the controller policies (policies/controllers/), against a server\n"
            "  agent      the node agent (kubelet): run this node's pods through Docker, against a server\n"
            "  proxy      serve Services on their cluster IPs and node ports (kube-proxy), against a server\n"
            "  policy     policy check FILE...: load policies in the sandbox, run their self_test;\n"
            "             policy test FILE: replay the cluster through a candidate scheduler policy\n"
            "\n"
            "'berth <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "server"))
        return server_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "scheduler"))
        return scheduler_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "controllers"))
        return controllers_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "policy"))
        return policy_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "agent"))
        return agent_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "proxy"))
        return proxy_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "up"))
        return up_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run"))
        return run_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version")) {
        printf("berth %s (Kubernetes API v1.31)\n", BERTH_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "berth: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
