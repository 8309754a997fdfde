/* main.c: bin/berth, one binary with subcommands. */
#include <stdio.h>
#include <string.h>

int server_main(int argc, char **argv);
int scheduler_main(int argc, char **argv);
int controllers_main(int argc, char **argv);
int agent_main(int argc, char **argv);
int proxy_main(int argc, char **argv);
int policy_main(int argc, char **argv);

#define BERTH_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berth <command> [options]\n"
            "\n"
            "commands:\n"
            "  server     serve the Kubernetes API from a Redis store (and schedule pods)\n"
            "  scheduler  place pending pods with Lua policies, against a server\n"
            "  controllers  run the controller policies (policies/controllers/), against a server\n"
            "  agent      the node agent (kubelet): run this node's pods through Docker, against a server\n"
            "  proxy      serve Services on their cluster IPs and node ports (kube-proxy), against a server\n"
            "  policy     policy check FILE...: load policies in the sandbox, run their self_test\n"
            "  version    print the version\n"
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
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("berth %s (Kubernetes API v1.31)\n", BERTH_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "berth: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
