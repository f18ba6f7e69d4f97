/* SPDX-License-Identifier: MIT */
#pragma once

/* Transient scope units over sd-bus: start (async), kill, JobRemoved, leftovers, a probe. */

#include <stddef.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>

#include "systemd/scope-properties.h"

int scope_own_unit(char **ret);
int scope_start_async(sd_bus *bus, const char *unit, const ScopeProperty *p, size_t n,
                      sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **ret_slot);
int scope_kill_async(sd_bus *bus, const char *unit, int sig);
int scope_end_async(sd_bus *bus, const char *unit);
int scope_match_job_removed(sd_bus *bus, sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **ret_slot);
int scope_kill_leftovers(sd_bus *bus, const char *own_unit);
int scope_probe(sd_bus *bus, const Config *config);
