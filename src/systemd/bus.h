/* SPDX-License-Identifier: MIT */
#pragma once

/* sd-bus driven by the libevent loop: one connection to the service manager's bus. */

#include <event2/event.h>
#include <stdbool.h>

#include <systemd/sd-bus.h>

typedef struct Bus Bus;

int bus_open(Bus **ret, struct event_base *base);
Bus *bus_free(Bus *b);
sd_bus *bus_get(Bus *b);
bool bus_is_user(const Bus *b);
void bus_kick(Bus *b);
