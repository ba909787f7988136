// The process that holds a pod's namespaces (the kubelet's sandbox container): it sleeps until
// told to stop, reaping whatever is reparented to it. Linked statically, so it runs in a sandbox
// with an empty root filesystem and no image.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal) {
    (void)signal;
    _exit(0);
}

static void reap(int signal) {
    (void)signal;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
}

int main(void) {
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
