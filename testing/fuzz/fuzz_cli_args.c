/* fuzz_cli_args.c - the argument parser of the plugin runtime (cli_parse_args) over a fixed module
 * description (cli_args.xml: one parameter of each kind; its path given at build time) with a
 * fuzzed argv: the input split at NUL bytes, one argument each. Accepted arguments are also
 * echoed (--echo), which reads every value the parser stored. */
#include "cli_internal.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_ARGS 64

static char *read_xml(size_t *len)
{
    FILE *f = fopen(DS_FUZZ_XML, "rb");
    char *buf = malloc(1 << 20);
    if (!f || !buf)
        abort();
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *xml;
    static size_t xml_len;
    static FILE *sink;
    if (!xml) {
        xml = read_xml(&xml_len);
        if (!(sink = fopen("/dev/null", "w")))
            abort();
    }
    /* a NUL-terminated copy: every argument, the last one included, is a C string */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[FUZZ_MAX_ARGS + 1];
    int argc = 0;
    for (size_t at = 0; at < size && argc < FUZZ_MAX_ARGS; at += strlen(text + at) + 1)
        argv[argc++] = text + at;
    argv[argc] = NULL;
    /* a fresh spec each time: parsing stores values into it */
    cli_spec *s = cli_spec_load(xml, xml_len);
    if (!s || s->n_issues > 0)
        abort(); /* the fixed description must load cleanly */
    char err[600];
    if (cli_parse_args(s, argc, argv, err, sizeof err) == 0)
        cli_print_echo(s, sink);
    else if (!err[0])
        abort(); /* a refusal must say why */
    cli_spec_free(s);
    free(text);
    return 0;
}
