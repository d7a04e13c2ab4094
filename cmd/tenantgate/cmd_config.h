/* `tenantgate check-config [flags...]`: load and validate as the server would. */
#ifndef TENANTGATE_CMD_CONFIG_H
#define TENANTGATE_CMD_CONFIG_H

/* argv[0] is "check-config" (or the program); the rest are server flags.
 * Prints "config OK" and a summary on stdout and returns 0; on error prints
 * the message on stderr and returns 1. --help prints the reference, returns 0. */
int tg_cmd_check_config(int argc, char **argv);

#endif
