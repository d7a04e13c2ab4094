/* `tenantgate check-config [flags...]`: load and validate as the server would. */
#ifndef TENANTGATE_CMD_CONFIG_H
#define TENANTGATE_CMD_CONFIG_H

/* argv[0] is "check-config" (or the program); the rest are server flags.
 * With a listener or --upstream the whole setup is checked as the server
 * would (plus the Kubernetes credentials it would load): a summary and
 * "config OK" on stdout, exit 0. In-cluster credentials that cannot be read
 * here are a warning, and then "config OK" is not printed. Without either,
 * only the files named (--config-file, --token-auth-file, TLS files) are
 * checked: what was and was not checked, "config file OK", exit 0. Errors go
 * to stderr, every error of the config file on its own line: exit 1, or 2
 * for a usage error (unknown flag, bad flag value). --help: exit 0. */
int tg_cmd_check_config(int argc, char **argv);

#endif
