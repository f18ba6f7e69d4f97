/* SPDX-License-Identifier: MIT */

/*
 * Standalone replay driver (systemd's fuzz-main.c pattern): normal builds link a fuzz target with
 * this main() instead of libFuzzer, and run LLVMFuzzerTestOneInput() over every file named on the
 * command line or found (one level deep) in a named directory. That turns the seed corpus and the
 * saved crashers into a regression test that any compiler can build; under ASan/UBSan it catches
 * the same bugs the fuzzer found. Each input's name is printed before it runs, so a crash points
 * at its file.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util/macro.h"

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static int read_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        for (;;) {
                size_t n;

                if (allocated - size < 4096) {
                        char *p;

                        allocated = allocated ? allocated * 2 : 8192;
                        p = realloc(buf, allocated);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = fread(buf + size, 1, allocated - size, f);
                size += n;
                if (n == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int run_one(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_file(path, &buf, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        printf("%s (%zu bytes)\n", path, size);
        fflush(stdout);
        /* Hand over an exact-size copy so ASan sees reads past the end, as libFuzzer's would. */
        {
                _cleanup_free_ uint8_t *exact = malloc(size ? size : 1);

                if (!exact)
                        return -ENOMEM;
                memcpy(exact, buf, size);
                (void) LLVMFuzzerTestOneInput(exact, size);
        }
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Files of one directory in name order, so runs are reproducible. Returns inputs run, or < 0. */
static int run_dir(const char *dir) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int count = 0, r;

        d = opendir(dir);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n + 2 > allocated) {
                        char **p;

                        allocated = allocated ? allocated * 2 : 16;
                        p = realloc(names, allocated * sizeof(char *));
                        if (!p)
                                return -ENOMEM;
                        names = p;
                }
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_names);
        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (stat(names[i], &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = run_one(names[i]);
                if (r < 0)
                        return r;
                count++;
        }
        return count;
}

int main(int argc, char *argv[]) {
        int total = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode))
                        r = run_dir(argv[i]);
                else
                        r = run_one(argv[i]) < 0 ? -EIO : 1;
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return EXIT_FAILURE;
                }
                total += r;
        }
        /* An empty corpus would make the regression test pass without testing anything. */
        if (total == 0) {
                fprintf(stderr, "no inputs found\n");
                return EXIT_FAILURE;
        }
        printf("%d inputs ok\n", total);
        return EXIT_SUCCESS;
}
