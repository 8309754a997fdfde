/* pause.c: the infra ("pause") container of a berth pod, image berth/pause:latest.
 *
 * It holds the pod's network namespace for the app containers that join it
 * (NetworkMode container:<infra>): it does nothing but sleep until SIGTERM or SIGINT, and, as
 * PID 1 of its container, reaps any child that gets reparented to it. Built static
 * (cc -static -Os) so the image is this one file; scripts/test-images.sh and `berth up`
 * build and `docker import` it when the image is missing. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    stop = 1;
}

static void on_chld(int sig)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    while (!stop)
        pause();
    return 0;
}
