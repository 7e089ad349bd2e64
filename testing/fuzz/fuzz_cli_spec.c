/* fuzz_cli_spec.c - the module-description loader of the plugin runtime (cli_spec_load: libxml2,
 * then the spec built from it and the SLICER_CLI.md validator) on any bytes; a spec without issues
 * is also printed as --help and --echo, which walk everything the loader built. */
#include "cli_internal.h"
#include "fuzz_util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w")))
        abort();
    cli_spec *s = cli_spec_load((const char *)data, size);
    if (!s)
        return 0; /* out of memory only */
    if (s->n_issues == 0) {
        cli_print_help(s, "Fuzz", sink);
        cli_print_echo(s, sink);
    }
    cli_spec_free(s);
    return 0;
}
