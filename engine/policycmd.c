/* policycmd.c: `berth policy check FILE...`: load policies in the sandbox they run in and run
 * their self_test, so an author (or a CI job) knows before a hot reload would refuse them.
 *
 * Each FILE is loaded in a fresh VM (luavm.h: the allow-listed environment, the time budget,
 * the memory cap, require() from --lua), with the chunk name of the path as given, so
 * messages read "policies/scheduler.lua:12: ...". A file passes when it loads, returns a
 * table, and its self_test (if it has one) returns without raising. Exit status: 0 when every
 * file passes, 1 otherwise, 2 for bad usage.
 *
 * `berth policy test FILE ...`, the dry run of a candidate scheduler policy against the live
 * cluster, is engine/policytest.c; this file only hands it the arguments. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luavm.h"
#include "policytest.h"
#include "scheduler.h"

static int check_one(const char *path, const char *lib_dir, unsigned budget_ms)
{
    char err[1024], chunk[PATH_MAX + 2];
    luavm_opts_t o = { lib_dir, budget_ms, 0, 0 };
    luavm_t *vm = luavm_create(&o, err, sizeof(err));
    int ok = 0;
    if (!vm) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 0;
    }
    snprintf(chunk, sizeof(chunk), "@%s", path);
    err[0] = '\0';
    if (luavm_load_file(vm, path, chunk, err, sizeof(err)) != LUAVM_OK) {
        fprintf(stderr, "%s\n", *err ? err : luavm_errmsg(vm) ? luavm_errmsg(vm) : "cannot load");
    } else if (luavm_has_hook(vm, "self_test")) {
        int st = luavm_call(vm, "self_test", 0, 0);
        if (st != LUAVM_OK)
            fprintf(stderr, "%s: self_test failed (%s): %s\n", path, luavm_status_name(st),
                    luavm_errmsg(vm) ? luavm_errmsg(vm) : "");
        else {
            printf("%s: ok (loaded, self_test passed)\n", path);
            ok = 1;
        }
    } else {
        printf("%s: ok (loaded; it has no self_test)\n", path);
        ok = 1;
    }
    luavm_free(vm);
    return ok;
}

int policy_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "lua", required_argument, NULL, 'l' },
        { "budget-ms", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char ldir[PATH_MAX];
    const char *lib_dir;
    unsigned budget = 0;
    int c, failed = 0;
    scheduler_default_dir("lua", ldir, sizeof(ldir));
    lib_dir = ldir;
    if (argc >= 2 && !strcmp(argv[1], "test"))
        return policytest_main(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "check")) {
        fprintf(stderr, "usage: berth policy check [--lua DIR] [--budget-ms N] FILE...\n"
                        "       berth policy test FILE [options] (berth policy test --help)\n");
        return 2;
    }
    argc--, argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': lib_dir = optarg; break;
        case 'b': budget = (unsigned)atoi(optarg); break;
        case 'h':
            printf("usage: berth policy check [--lua DIR] [--budget-ms N] FILE...\n"
                   "Load each policy (or plugin.lua) in the sandbox and run its self_test.\n");
            return 0;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: berth policy check [--lua DIR] [--budget-ms N] FILE...\n");
        return 2;
    }
    for (int i = optind; i < argc; i++)
        if (!check_one(argv[i], lib_dir, budget))
            failed++;
    return failed ? 1 : 0;
}
