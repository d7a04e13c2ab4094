/* `tenantgate enforce` and `tenantgate fmt`: the PromQL engine on the
 * command line. argv[0] is the subcommand name; the return value is the exit
 * status (0 all queries ok, 1 a query failed, 2 usage error). */
#ifndef TENANTGATE_CMD_PROMQL_H
#define TENANTGATE_CMD_PROMQL_H

int tg_cmd_enforce(int argc, char **argv);
int tg_cmd_fmt(int argc, char **argv);

#endif
