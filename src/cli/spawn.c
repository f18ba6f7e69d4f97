/* SPDX-License-Identifier: MIT */

/*
 * Starting and ending CLI children. fork+exec rather than posix_spawn because the child must
 * arm PR_SET_PDEATHSIG and wait on the start gate before it runs any CLI code (a per-request
 * scope or cgroup must hold it first). The child gets its own process group, so a kill reaches
 * whatever it forks; reaping goes through a pidfd so no global SIGCHLD handler can steal another
 * module's child. This module does not decide when to kill: session.c does.
 */

#include <fcntl.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/spawn.h"
#include "util/macro.h"

/* glibc 2.36 declares pidfd_open() but P_PIDFD lives in <linux/wait.h>, which clashes with
 * <sys/wait.h>. */
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void pipe_pair_close(int p[2]) {
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

/* Runs in the forked child: no allocation, no return. */
_Noreturn static void child_exec(const CliSpawnOptions *o, pid_t parent, int in, int out, int err, int gate,
                                 int pass) {
        sigset_t all;

        /* Die with the proxy: a crashed proxy must not leave a CLI running on its own. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        (void) setpgid(0, 0);
        /* Every disposition back to the default *before* unblocking: the handlers inherited from
         * the proxy (libevent's SIGTERM/SIGINT/SIGHUP handlers write the signal number into the
         * parent's signal pipe, whose fd this child still holds) would otherwise run here when a
         * client leaves between fork() and exec() and make the proxy stop itself. execve() resets
         * handled signals too, but only once it runs; the gate can hold us here for a while. */
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);

        /* The child's fds first, everything else closed before it waits: while it waits it must
         * hold nothing of the proxy's (the signal pipe, client sockets, other children's pipes). */
        int next = 3, *const srcs[] = { &in, &out, &err, &pass, &gate };
        /* Sources below 5 could be overwritten by an earlier dup2() onto 0..4 (or be their own target,
         * where dup2() would keep O_CLOEXEC): lift them first. */
        for (size_t i = 0; i < ELEMENTSOF(srcs); i++)
                if (*srcs[i] >= 0 && *srcs[i] < 5 && (*srcs[i] = fcntl(*srcs[i], F_DUPFD_CLOEXEC, 5)) < 0)
                        _exit(127);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                _exit(127);
        if (pass >= 0 && dup2(pass, next++) < 0)
                _exit(127);
        if (gate >= 0) {
                if (dup2(gate, next) < 0)
                        _exit(127);
                gate = next++;
        }
        /* Everything else is O_CLOEXEC already; this also catches fds libraries opened without it. */
        (void) syscall(SYS_close_range, (unsigned) next, ~0U, 0U);

        if (gate >= 0) {
                char c;
                ssize_t n;
                do
                        n = read(gate, &c, 1);
                while (n < 0 && errno == EINTR);
                /* EOF: the parent gave up on this child (scope failed, client left). */
                if (n != 1)
                        _exit(127);
                (void) close(gate);
        }

        if (o->cwd && chdir(o->cwd) < 0)
                _exit(127);
        if (strchr(o->argv[0], '/'))
                execve(o->argv[0], o->argv, o->envp);
        else
                /* A bare name: search PATH like a shell would (the child's PATH is the proxy's). */
                execvpe(o->argv[0], o->argv, o->envp);
        _exit(127);
}

/**
 * cli_spawn() - start a CLI child
 * @o: what to run
 * @ret: the child; on failure left as CLI_CHILD_NULL
 *
 * Return: 0, or a negative errno from pipe2/fork/pidfd_open.
 */
int cli_spawn(const CliSpawnOptions *o, CliChild *ret) {
        int in[2] = { -EBADF, -EBADF }, out[2] = { -EBADF, -EBADF }, err[2] = { -EBADF, -EBADF },
            gate[2] = { -EBADF, -EBADF };
        pid_t parent = getpid(), pid;
        int r;

        *ret = CLI_CHILD_NULL;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
            (o->gated && pipe2(gate, O_CLOEXEC) < 0)) {
                r = negative_errno();
                goto fail;
        }

        /* Every signal blocked across fork(): a signal that arrives before the child has reset
         * its dispositions would otherwise run the proxy's handler in the child. The child
         * unblocks once the defaults are back. */
        sigset_t all, saved;
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &saved);
        pid = fork();
        if (pid == 0)
                child_exec(o, parent, in[0], out[1], err[1], gate[0], o->pass_fd);
        r = pid < 0 ? negative_errno() : 0;
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (r < 0)
                goto fail;

        /* Both sides set the group, so killpg() works no matter who runs first. */
        (void) setpgid(pid, pid);

        int pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                goto fail;
        }

        in[0] = safe_close(in[0]);
        out[1] = safe_close(out[1]);
        err[1] = safe_close(err[1]);
        gate[0] = safe_close(gate[0]);
        (void) fcntl(in[1], F_SETFL, O_NONBLOCK);
        (void) fcntl(out[0], F_SETFL, O_NONBLOCK);
        (void) fcntl(err[0], F_SETFL, O_NONBLOCK);

        *ret = (CliChild) {
                .pid = pid,
                .pidfd = pidfd,
                .stdin_fd = in[1],
                .stdout_fd = out[0],
                .stderr_fd = err[0],
                .gate_fd = gate[1],
        };
        return 0;

fail:
        pipe_pair_close(in);
        pipe_pair_close(out);
        pipe_pair_close(err);
        pipe_pair_close(gate);
        return r;
}

/**
 * cli_child_release() - open the start gate: the child execs the CLI now
 * Return: 0, or a negative errno.
 */
int cli_child_release(CliChild *c) {
        if (c->gate_fd < 0)
                return 0;
        ssize_t n = write(c->gate_fd, "x", 1);
        c->gate_fd = safe_close(c->gate_fd);
        return n == 1 ? 0 : -EIO;
}

/**
 * cli_child_signal() - signal the child's whole process group
 * Return: 0, -ESRCH when nothing is left, or another negative errno.
 */
int cli_child_signal(CliChild *c, int sig) {
        if (c->pid <= 0 || c->reaped)
                return -ESRCH;
        if (killpg(c->pid, sig) < 0)
                return negative_errno();
        return 0;
}

/**
 * cli_child_try_reap() - collect the child's exit status without blocking
 * @c: the child
 * @ret: its exit (kill_reason left untouched)
 *
 * Before reaping, whatever is left in the child's process group is SIGKILLed: the unreaped
 * leader keeps the group id reserved, so this cannot hit an unrelated process, and no
 * grandchild outlives its request.
 *
 * Return: 1 when reaped, 0 when still running, or a negative errno.
 */
int cli_child_try_reap(CliChild *c, CliExit *ret) {
        siginfo_t si = {};

        if (c->reaped)
                return 1;
        if (waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return negative_errno();
        if (si.si_pid == 0)
                return 0;
        (void) killpg(c->pid, SIGKILL);
        if (waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED) < 0)
                return negative_errno();
        c->reaped = true;
        ret->exited = si.si_code == CLD_EXITED;
        ret->code = ret->exited ? si.si_status : 128 + si.si_status;
        ret->signal = ret->exited ? 0 : si.si_status;
        return 1;
}

/**
 * cli_child_done() - release a child's resources
 *
 * A child still running here is killed and reaped synchronously; callers that can wait should
 * have let the event loop reap it, so this only blocks on teardown paths.
 */
void cli_child_done(CliChild *c) {
        if (c->pid > 0 && !c->reaped && c->pidfd >= 0) {
                siginfo_t si = {};

                (void) killpg(c->pid, SIGKILL);
                (void) kill(c->pid, SIGKILL);
                (void) waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED);
                c->reaped = true;
        }
        c->pidfd = safe_close(c->pidfd);
        c->stdin_fd = safe_close(c->stdin_fd);
        c->stdout_fd = safe_close(c->stdout_fd);
        c->stderr_fd = safe_close(c->stderr_fd);
        c->gate_fd = safe_close(c->gate_fd);
}
