/*
 * The long-lived state of one tenantgate process: the event loop, listeners,
 * the current configuration, the upstream pool, metrics and (with Kubernetes)
 * the API client and decision cache. Created once by main(), passed to every
 * request; nothing here is global.
 */
#ifndef TENANTGATE_SERVER_H
#define TENANTGATE_SERVER_H

#include <stdint.h>
#include "tenantgate/config.h"

struct event_base;
struct tg_server;

/* Build the server for `cfg` (takes a reference). On error returns NULL and
 * writes a message into errbuf. */
struct tg_server *tg_server_new(struct event_base *base, struct tg_config *cfg, char *errbuf,
                                size_t errlen);
/* Run the event loop until SIGTERM/SIGINT has drained in-flight requests.
 * Returns the process exit code. */
int tg_server_run(struct tg_server *srv);
void tg_server_free(struct tg_server *srv);

#endif
