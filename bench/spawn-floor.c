/* SPDX-License-Identifier: MIT */

/*
 * The spawn floor for bench.mjs: the fake CLI run straight from C, with no HTTP and no proxy,
 * the cheapest way there is. posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK), three pipes,
 * the proxy's argv, environment, cwd and stdin (captured by bench.mjs from the fake's own log),
 * stdin closed once the `result` line is there (as the proxy does), stdout read to EOF, reap.
 *
 *   spawn-floor seq N SPECDIR     N runs one after the other
 *   spawn-floor burst N SPECDIR   N runs started at once
 *
 * SPECDIR holds argv and env (NUL-separated), cwd and stdin (bytes). For every run one line on
 * stdout: "<start> <delta> <result>": milliseconds from that run's spawn (seq) or from the
 * burst's start (burst) to its first message_start line, first text_delta line and result line.
 * A last line "cpu <ms>" is this process's user+system CPU per run. Not installed, not a test.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct Run {
        pid_t pid;
        int in, out, err;
        char line[1 << 16];
        size_t len;
        double t_start, t_delta, t_result;
        double t0;
        int done;
} Run;

static char **argv_, **envp_, *cwd_, *stdin_;
static size_t stdin_len;

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static char *slurp(const char *dir, const char *name, size_t *ret_len) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        FILE *f = fopen(p, "re");
        if (!f) {
                fprintf(stderr, "spawn-floor: %s: %s\n", p, strerror(errno));
                exit(2);
        }
        char *buf = NULL;
        size_t cap = 0, n = 0, k;
        do {
                if (n + 4096 + 1 > cap && !(buf = realloc(buf, cap = (cap + 4096) * 2)))
                        exit(2);
                k = fread(buf + n, 1, 4096, f);
                n += k;
        } while (k > 0);
        fclose(f);
        buf[n] = 0;
        if (ret_len)
                *ret_len = n;
        return buf;
}

static char **split0(char *buf, size_t n) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
                count += buf[i] == 0;
        char **v = calloc(count + 2, sizeof(char *));
        size_t j = 0;
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
                v[j++] = buf + i;
        v[j] = NULL;
        return v;
}

static void start(Run *r) {
        int in[2], out[2], err[2];
        posix_spawn_file_actions_t fa;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                perror("pipe2");
                exit(2);
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        posix_spawn_file_actions_addchdir_np(&fa, cwd_);
        r->t0 = r->t0 ?: now_ms();
        int k = posix_spawn(&r->pid, argv_[0], &fa, NULL, argv_, envp_);
        posix_spawn_file_actions_destroy(&fa);
        if (k != 0) {
                fprintf(stderr, "posix_spawn: %s\n", strerror(k));
                exit(2);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        r->in = in[1];
        r->out = out[0];
        r->err = err[0];
        if (write(r->in, stdin_, stdin_len) != (ssize_t) stdin_len) {
                perror("write");
                exit(2);
        }
}

/* Read what is there; return 1 at EOF. */
static int pump(Run *r) {
        char buf[65536];
        ssize_t n = read(r->out, buf, sizeof(buf));
        if (n <= 0)
                return n == 0 || errno != EINTR;
        double t = now_ms() - r->t0;
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != '\n') {
                        if (r->len < sizeof(r->line) - 1)
                                r->line[r->len++] = buf[i];
                        continue;
                }
                r->line[r->len] = 0;
                if (!r->t_start && strstr(r->line, "\"type\":\"message_start\""))
                        r->t_start = t;
                if (!r->t_delta && strstr(r->line, "\"text_delta\""))
                        r->t_delta = t;
                if (!r->t_result && strncmp(r->line, "{\"type\":\"result\"", 16) == 0) {
                        r->t_result = t;
                        close(r->in);
                        r->in = -1;
                }
                r->len = 0;
        }
        return 0;
}

static void finish(Run *r) {
        char buf[4096];
        while (read(r->err, buf, sizeof(buf)) > 0)
                ;
        close(r->out);
        close(r->err);
        if (r->in >= 0)
                close(r->in);
        int st;
        (void) waitpid(r->pid, &st, 0);
        printf("%.3f %.3f %.3f\n", r->t_start, r->t_delta, r->t_result);
}

int main(int argc, char **argv) {
        if (argc != 4 || (strcmp(argv[1], "seq") && strcmp(argv[1], "burst"))) {
                fprintf(stderr, "usage: spawn-floor seq|burst N SPECDIR\n");
                return 2;
        }
        int n = atoi(argv[2]);
        size_t len;
        char *a = slurp(argv[3], "argv", &len);
        argv_ = split0(a, len);
        char *e = slurp(argv[3], "env", &len);
        envp_ = split0(e, len);
        cwd_ = slurp(argv[3], "cwd", NULL);
        stdin_ = slurp(argv[3], "stdin", &stdin_len);

        Run *runs = calloc((size_t) n, sizeof(Run));
        if (!runs)
                return 2;
        if (strcmp(argv[1], "seq") == 0)
                for (int i = 0; i < n; i++) {
                        start(&runs[i]);
                        /* stderr is small (the fake writes little): read it after stdout's EOF. */
                        while (!pump(&runs[i]))
                                ;
                        finish(&runs[i]);
                }
        else {
                struct pollfd *p = calloc((size_t) n, sizeof(*p));
                double t0 = now_ms();
                for (int i = 0; i < n; i++) {
                        runs[i].t0 = t0;
                        start(&runs[i]);
                        p[i] = (struct pollfd) { .fd = runs[i].out, .events = POLLIN };
                }
                for (int left = n; left > 0;) {
                        if (poll(p, (nfds_t) n, -1) < 0 && errno != EINTR)
                                return 2;
                        for (int i = 0; i < n; i++)
                                if (p[i].fd >= 0 && p[i].revents && pump(&runs[i])) {
                                        finish(&runs[i]);
                                        p[i].fd = -1;
                                        left--;
                                }
                }
                free(p);
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                     (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
        printf("cpu %.4f\n", cpu / n);
        return 0;
}
