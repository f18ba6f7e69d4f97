/* SPDX-License-Identifier: MIT */
#pragma once

/* PURE: what a request's scope unit or sub-cgroup looks like, computed from the configuration. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef enum ScopePropertyType {
        SCOPE_PROPERTY_STRING,          /* "s" */
        SCOPE_PROPERTY_U64,             /* "t" */
        SCOPE_PROPERTY_STRV1,           /* "as" with the one element in .s */
        SCOPE_PROPERTY_PIDS,            /* "au" with the one pid in .u */
} ScopePropertyType;

typedef struct ScopeProperty {
        const char *name;               /* static */
        ScopePropertyType type;
        char *s;                        /* owned */
        uint64_t u;
} ScopeProperty;

typedef struct ScopeInfo {
        const char *request_id;
        const char *api;                /* "anthropic", ... */
        const char *model;              /* may be NULL */
        const char *own_unit;           /* the service we run in, NULL outside a unit */
        pid_t pid;
} ScopeInfo;

/* One cgroup v2 interface file to write for a request's sub-cgroup. */
typedef struct CgroupLimit {
        const char *file;               /* "memory.max", "pids.max", "cpu.max" */
        const char *controller;         /* "memory", "pids", "cpu" */
        char value[48];
} CgroupLimit;

#define SCOPE_UNIT_PREFIX "claude-proxy-"
#define SCOPE_UNIT_PATTERN "claude-proxy-*.scope"

int scope_unit_name(const char *request_id, unsigned attempt, char **ret);
int cgroup_dir_name(const char *request_id, unsigned attempt, char **ret);
int scope_description(const ScopeInfo *info, char **ret);
bool scope_description_is_ours(const char *description, const char *own_unit);
int scope_properties_from_config(const Config *c, const ScopeInfo *info, ScopeProperty **ret, size_t *ret_n);
void scope_properties_free(ScopeProperty *p, size_t n);
size_t cgroup_limits_from_config(const Config *c, CgroupLimit ret[static 3]);
