/* tenantgate entry point: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("tenantgate %s\n", TG_VERSION);
        return 0;
    }
    fprintf(stderr, "tenantgate: not yet wired\n");
    return 1;
}
