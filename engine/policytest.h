/* policytest.h: `berth policy test FILE`, the dry run of a candidate scheduler policy against
 * the live cluster.
 *
 * It reads the cluster's nodes and pods once (engine/kubeclient.h), takes the pods of one
 * schedulerName and replays them, as if the cluster were empty of them, twice: through the
 * live policy (the file the scheduler runs for that name under --policies) and through the
 * candidate FILE, each in a policy set of its own (engine/policy.h: a fresh VM, the
 * scheduler's sandbox, budget and memory cap, its self_test at load) and a scheduler cache of
 * its own (engine/schedcache.h), deciding each pod with the scheduler's own decision code
 * (scheduler_decide_pod, scheduler_order_pods). Nothing is written to the cluster: actions a
 * policy queues through berth.cluster are dropped. It prints the pods the two replays place
 * differently, the candidate's failures with their file:line message, and a summary; the
 * semantics are in docs/policies.md, "Dry run: berth policy test".
 *
 * Depends on kubeclient, policy, scheduler, schedcache, luacluster, apiclient (an unused
 * client behind berth.cluster), libevent (a loop that is never run), jansson. Called by
 * policycmd.c. */
#ifndef BERTH_POLICYTEST_H
#define BERTH_POLICYTEST_H

/* `berth policy test FILE [options]`: argv[0] is "test". Exit status: 0 when the replay ran
 * (differences or not), 1 when a policy failed to load or the cluster could not be read,
 * 2 for bad usage. */
int policytest_main(int argc, char **argv);

#endif
