/* SPDX-License-Identifier: MIT */

/*
 * claude-proxy: command line, configuration layering, logging set-up, the event loop and the
 * readiness handshake with systemd. Everything else lives in http/ and session.c.
 */

#include <event2/event.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "config.h"
#include "http/server.h"
#include "mcp-registry.h"
#include "systemd/notify.h"
#include "util/log-libevent.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/rlimit.h"
#include "util/message-ids.h"
#include "util/strv.h"

extern char **environ;

static const char *arg_config_path = NULL;
static bool arg_check_config = false;
static LogTarget arg_log_target = LOG_TARGET_AUTO;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Serve the Anthropic Messages API over the Claude Code CLI.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --check-config         Validate the configuration, print it (secrets masked), exit\n"
               "  -c --config=PATH          Configuration file (default %s)\n"
               "     --host=ADDR            Address to bind when not socket-activated (HOST)\n"
               "  -p --port=PORT            Port to bind when not socket-activated (PORT)\n"
               "     --log-level=LEVEL      debug, info, notice, warning, error (LOG_LEVEL)\n"
               "     --log-target=TARGET    auto, journal, console\n"
               "  -o --set=KEY=VALUE        Set any configuration key (see claude-proxy.conf(5))\n\n"
               "Configuration: built-in defaults < config file < environment < command line.\n",
               program_invocation_short_name, DEFAULT_CONFIG_PATH);
}

/* Command-line settings are applied last, so they are collected first. */
static int parse_argv(int argc, char *argv[], char ***ret_sets) {
        enum { ARG_VERSION = 0x100, ARG_CHECK, ARG_HOST, ARG_LOG_LEVEL, ARG_LOG_TARGET };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "check-config", no_argument, NULL, ARG_CHECK },
                { "config", required_argument, NULL, 'c' },
                { "host", required_argument, NULL, ARG_HOST },
                { "port", required_argument, NULL, 'p' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "set", required_argument, NULL, 'o' },
                {}
        };
        _cleanup_strv_free_ char **sets = calloc(1, sizeof(char *));
        char *kv = NULL;
        int c;

        if (!sets)
                return -ENOMEM;
        while ((c = getopt_long(argc, argv, "hc:p:o:", options, NULL)) >= 0) {
                kv = NULL;
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("claude-proxy %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CHECK:
                        arg_check_config = true;
                        break;
                case 'c':
                        arg_config_path = optarg;
                        break;
                case ARG_HOST:
                        (void) asprintf(&kv, "HOST=%s", optarg);
                        break;
                case 'p':
                        (void) asprintf(&kv, "PORT=%s", optarg);
                        break;
                case ARG_LOG_LEVEL:
                        (void) asprintf(&kv, "LOG_LEVEL=%s", optarg);
                        break;
                case ARG_LOG_TARGET:
                        if (streq(optarg, "journal"))
                                arg_log_target = LOG_TARGET_JOURNAL;
                        else if (streq(optarg, "console"))
                                arg_log_target = LOG_TARGET_CONSOLE;
                        else if (streq(optarg, "auto"))
                                arg_log_target = LOG_TARGET_AUTO;
                        else {
                                fprintf(stderr, "Invalid --log-target '%s' (expected auto, journal, console)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'o':
                        if (!strchr(optarg, '=')) {
                                fprintf(stderr, "--set takes KEY=VALUE, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        kv = strdup(optarg);
                        break;
                default:
                        return -EINVAL;
                }
                if (kv && strv_consume(&sets, kv) < 0)
                        return -ENOMEM;
        }
        if (optind < argc) {
                fprintf(stderr, "%s takes no positional arguments.\n", program_invocation_short_name);
                return -EINVAL;
        }
        *ret_sets = TAKE_PTR(sets);
        return 1;
}

static int load_config(Config *c, char **sets) {
        char err[512] = "";
        int r;

        r = config_load_file(c, arg_config_path ?: DEFAULT_CONFIG_PATH, /* optional= */ !arg_config_path, err,
                             sizeof(err));
        if (r < 0)
                goto fail;
        r = config_load_env(c, environ, err, sizeof(err));
        if (r < 0)
                goto fail;
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        if (creds && *creds) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/api-keys", creds) < 0)
                        return -ENOMEM;
                if (access(p, F_OK) == 0) {
                        r = config_load_keys_file(c, p, err, sizeof(err));
                        if (r < 0)
                                goto fail;
                }
        }
        for (char **s = sets; s && *s; s++) {
                char *eq = strchr(*s, '=');
                *eq = 0;
                r = config_set(c, *s, eq + 1, err, sizeof(err));
                if (r == -ENOENT)
                        snprintf(err, sizeof(err), "Unknown configuration key '%s'", *s);
                *eq = '=';
                if (r < 0)
                        goto fail;
        }
        r = config_validate(c, err, sizeof(err));
        if (r < 0)
                goto fail;
        /* Read here, with the rest: a bad registry stops the start, and a reload that brings one
         * keeps the old configuration, registry included. */
        if (c->mcp_config_path) {
                struct stat st;

                r = mcp_registry_load_file(c->mcp_config_path, &c->mcp_registry, err, sizeof(err));
                if (r < 0)
                        goto fail;
                /* Not refused (the operator may have reasons), but said: its env is secrets. */
                if (stat(c->mcp_config_path, &st) == 0 && (st.st_mode & S_IROTH))
                        fprintf(stderr, "claude-proxy: PROXY_MCP_CONFIG %s is readable by every user, and its servers' "
                                "env usually holds secrets\n", c->mcp_config_path);
        }
        return 0;
fail:
        fprintf(stderr, "claude-proxy: %s\n", err[0] ? err : strerror(-r));
        return r;
}

/* SIGHUP (ExecReload=): systemd 252 has no Type=notify-reload, so RELOADING=1 ... READY=1 by hand. */
typedef struct Reload {
        Server *server;
        char **sets;            /* --set/--host/... from argv: they win again on every reload */
        Config *current;        /* the reloaded configuration in use, NULL while the first one is */
} Reload;

static void on_sighup(evutil_socket_t sig, short what, void *userdata) {
        Reload *rl = userdata;
        Config *c = calloc(1, sizeof(*c));

        (void) sd_notify(0, "RELOADING=1");
        if (!c) {
                log_oom();
                (void) sd_notify(0, "READY=1");
                return;
        }
        config_init(c);
        /* The same layering as at start: file < environment < credentials < command line. */
        if (load_config(c, rl->sets) < 0) {
                log_error("The new configuration is invalid, keeping the old one");
                config_done(c);
                free(c);
        } else {
                server_set_config(rl->server, c);
                if (rl->current) {
                        config_done(rl->current);
                        free(rl->current);
                }
                rl->current = c;
                log_info("configuration reloaded");
        }
        (void) sd_notify(0, "READY=1");
        notify_status_now(rl->server->notify);
}

static int run(int argc, char *argv[]) {
        _cleanup_strv_free_ char **sets = NULL;
        Config config;
        struct event_base *base = NULL;
        Server *server = NULL;
        struct event *ev_sighup = NULL;
        Reload reload = {};
        int r;

        r = parse_argv(argc, argv, &sets);
        if (r <= 0)
                return r;

        config_init(&config);
        r = load_config(&config, sets);
        if (r < 0) {
                config_done(&config);
                return r;
        }
        if (arg_check_config) {
                _cleanup_free_ char *s = config_format(&config);
                const char *path = arg_config_path ?: DEFAULT_CONFIG_PATH;

                /* Which file, first: a --prefix other than /usr moves the default path, and an
                 * operator editing the wrong file should see it here rather than guess. */
                if (access(path, F_OK) == 0)
                        printf("# configuration file: %s\n", path);
                else
                        printf("# configuration file: %s (not present: defaults, environment and "
                               "command line only)\n", path);
                fputs(s ?: "", stdout);
                config_done(&config);
                return 0;
        }

        log_setup(arg_log_target, config.log_level);
        log_libevent_setup();
        {
                long n = rlimit_nofile_raise();
                if (n < 0)
                        log_warning_errno((int) n, "Cannot raise the file descriptor limit: %m");
                else
                        log_debug("file descriptor limit: %ld", n);
        }
        (void) signal(SIGPIPE, SIG_IGN);
        /* Until the loop's signal events exist, a SIGTERM (systemd stopping us during start-up)
         * stays pending instead of killing us uncleanly; it is handled once unblocked below. */
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &stop_signals, NULL);
        {
                char *f[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_STARTED, NULL };
                log_full_errno_fields(LOG_INFO, 0, f, "claude-proxy %s starting", PACKAGE_VERSION);
        }

        /* EV_FEATURE_EARLY_CLOSE: sessions watch their client's socket for EPOLLRDHUP. */
        struct event_config *ec = event_config_new();
        if (ec)
                (void) event_config_require_features(ec, EV_FEATURE_EARLY_CLOSE);
        base = ec ? event_base_new_with_config(ec) : NULL;
        if (ec)
                event_config_free(ec);
        if (!base)
                base = event_base_new();
        if (!base) {
                r = log_error_errno(-ENOMEM, "Cannot create the event loop.");
                goto finish;
        }

        r = server_new(&server, base, &config);
        if (r < 0)
                goto finish;
        r = server_listen(server);
        if (r < 0)
                goto finish;
        reload = (Reload) { .server = server, .sets = sets };
        ev_sighup = evsignal_new(base, SIGHUP, on_sighup, &reload);
        if (ev_sighup)
                (void) event_add(ev_sighup, NULL);
        (void) sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);

        {
                char *f[] = { (char *) "MESSAGE_ID=" MESSAGE_ID_READY, NULL };
                log_full_errno_fields(LOG_INFO, 0, f, "claude-proxy %s ready (CLI: %s)", PACKAGE_VERSION,
                                      server->claude_version ?: "unavailable");
        }
        (void) sd_notifyf(0, "READY=1\nSTATUS=listening, CLI %s", server->claude_version ?: "unavailable");

        if (event_base_dispatch(base) < 0)
                r = log_error_errno(-EIO, "The event loop failed.");
        else
                r = 0;
        log_info("stopped");

finish:
        if (ev_sighup)
                event_free(ev_sighup);
        server_free(server);
        if (reload.current) {
                config_done(reload.current);
                free(reload.current);
        }
        if (base)
                event_base_free(base);
        config_done(&config);
        return r;
}

int main(int argc, char *argv[]) {
        /* A fixed threshold: buffers of 1 MiB and more (a large body's pullup, a long CLI line)
         * are mmap()ed and so unmapped when freed. glibc's default raises the threshold after each
         * such free, and later big buffers then land in the heap and pin it. */
        (void) mallopt(M_MMAP_THRESHOLD, 1 << 20);

        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
