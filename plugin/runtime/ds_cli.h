/* ds_cli.h - the runtime shared by DualSeg's 3D Slicer CLI modules (the only code that prints or
 * exits). Every rule of ../shared/docs/SLICER_CLI.md that concerns the executable lives here.
 *
 * A module's parameters are declared once, in xml/<Name>.xml, which the build embeds in the
 * executable (ds_add_cli_module in plugin/CMakeLists.txt). At run time the runtime parses that XML
 * with libxml2 and derives everything from it: the argument parser (types, defaults, constraints,
 * enumerations, booleans as bare flags, comma-separated vectors, index parameters in order),
 * --help, --echo, and the standard arguments --xml, --logo, --version, --processinformationaddress
 * (accepted, ignored) and --returnparameterfile. The C code asks for values by their XML name; a
 * name the XML lacks, or a getter of the wrong type, is a bug and stops the program loudly.
 *
 * A module's main:
 *     ds_cli *cli;
 *     int code;
 *     if (!(cli = ds_cli_begin(&DS_CLI_MODULE, argc, argv, &code)))
 *         return code;                       // --xml, --help, wrong arguments, ...
 *     ... checks that involve several parameters: return ds_cli_usage_error(cli, "...");
 *     ds_cli_correct_blas_core(argv);        // may exec the module again, see below
 *     ds_cli_start(cli, "Evaluating");       // <filter-start>
 *     ... work, reporting ds_cli_progress(cli, fraction, comment) ...
 *     ds_cli_return_double(cli, "name", v);  // return parameters
 *     return ds_cli_end(cli, status, message);
 *
 * Exit codes: 0 success, 1 the work failed, 2 wrong arguments, 70 a bug (the code and its XML
 * disagree). Wrong arguments print one line on stderr and write nothing.
 */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS_CLI_EXIT_OK 0
#define DS_CLI_EXIT_FAILED 1
#define DS_CLI_EXIT_USAGE 2
#define DS_CLI_EXIT_BUG 70

/* What the build embeds in a module executable (the generated <Name>_embed.c defines
 * DS_CLI_MODULE; ds_add_cli_module links it). */
typedef struct ds_cli_module {
    const char *name;              /* executable and XML name, "DualSegEvaluate" */
    const unsigned char *xml;      /* the bytes of xml/<Name>.xml, exactly */
    size_t xml_size;
    const char *logo;              /* the whole --logo answer in SEM's format: "LOGO\n", width,
                                      height, pixel size, length, base64 RGBA pixels, one a
                                      line (icons/make_logo.c); NULL: no logo */
} ds_cli_module;
extern const ds_cli_module DS_CLI_MODULE;

typedef struct ds_cli ds_cli;

/* Parses the command line against the module's XML. Returns NULL when the process must end now
 * with *exit_code: after --xml, --logo, --help or --version (0), on wrong arguments (2, one line
 * on stderr), or when the embedded XML is broken (70). */
ds_cli *ds_cli_begin(const ds_cli_module *m, int argc, char **argv, int *exit_code);

/* A check that involves several parameters failed: prints "<Name>: <message>" on stderr, frees
 * cli and returns DS_CLI_EXIT_USAGE. Call it before anything is written. */
int ds_cli_usage_error(ds_cli *cli, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Ends the run and frees cli. st == DS_OK: writes the return parameter file (atomically, one
 * "name = value" line per return parameter set, in XML order), prints <filter-end>, returns 0.
 * Otherwise prints "<Name>: error: <message>" on stderr and returns 1. */
int ds_cli_end(ds_cli *cli, ds_status st, const char *message);

/* ---- values, by XML name ---- */

/* integer (and integer-enumeration) parameters */
int ds_cli_get_int(const ds_cli *cli, const char *name);
/* float / double (and their enumerations) */
double ds_cli_get_double(const ds_cli *cli, const char *name);
/* boolean: 1 when the bare flag was given (or the default is true) */
int ds_cli_get_bool(const ds_cli *cli, const char *name);
/* string-like (string, string-enumeration, file, directory, image, table, ...): "" when neither
 * given nor defaulted. Valid while cli lives. */
const char *ds_cli_get_string(const ds_cli *cli, const char *name);
/* The parameter's long flag without its dashes ("prediction"), for messages that name it; the
 * flag is the XML's to choose, so C writes "--%s" with this, never the flag itself. */
const char *ds_cli_longflag(const ds_cli *cli, const char *name);
/* 1 when the parameter has a non-empty value (given or defaulted). */
int ds_cli_has_value(const ds_cli *cli, const char *name);
/* Vectors: writes up to cap values, returns how many the parameter holds (0 when empty). */
int ds_cli_get_ints(const ds_cli *cli, const char *name, int *out, int cap);
int ds_cli_get_doubles(const ds_cli *cli, const char *name, double *out, int cap);

/* A string-enumeration mapped to C values. The table must list exactly the XML's <element>s
 * (checked: a mismatch is a bug); returns the value of the chosen element. */
typedef struct ds_cli_choice {
    const char *element;
    int value;
} ds_cli_choice;
int ds_cli_get_choice(const ds_cli *cli, const char *name, const ds_cli_choice *table, int n);

/* ---- return parameters (SLICER_CLI.md rules 8 and 13) ----
 * Each setter matches one XML type (integer, double/float, double-/float-vector, integer-vector,
 * string); another type, or a name that is not a return parameter, is a bug. */

void ds_cli_return_int(ds_cli *cli, const char *name, long long v);
void ds_cli_return_double(ds_cli *cli, const char *name, double v);
void ds_cli_return_doubles(ds_cli *cli, const char *name, const double *v, int n);
void ds_cli_return_ints(ds_cli *cli, const char *name, const int *v, int n);
void ds_cli_return_string(ds_cli *cli, const char *name, const char *v);

/* ---- progress (SLICER_CLI.md rule 14) ---- */

/* The throttled reporter behind ds_cli_progress, usable on its own (tests give it a clock).
 * An update is printed when the fraction has advanced by 0.01 and 0.25 s have passed, when 2 s
 * have passed (so a caller reporting at least every 3 s shows a line at least every 5 s), or at
 * 1. Fractions are clamped to [0, 1] and never go back; after 1 s of work the comment carries the
 * time left ("about 2 min 10 s left"). Every line is flushed. */
typedef double (*ds_cli_clock_fn)(void *user);
typedef struct ds_cli_reporter {
    FILE *out;
    ds_cli_clock_fn clock;
    void *clock_user;
    double t0, last_emit, last_fraction;
    int emitted;
} ds_cli_reporter;

/* clock NULL: the monotonic clock. */
void ds_cli_reporter_init(ds_cli_reporter *p, FILE *out, ds_cli_clock_fn clock, void *user);
void ds_cli_reporter_start(ds_cli_reporter *p, const char *name, const char *comment);
/* stage < 0: no <filter-stage-progress>; comment may be NULL. */
void ds_cli_reporter_update(ds_cli_reporter *p, double fraction, double stage,
                            const char *comment);
void ds_cli_reporter_end(ds_cli_reporter *p, const char *name);

/* Prints <filter-start> with the module's title (once). */
void ds_cli_start(ds_cli *cli, const char *comment);

/* Call right after ds_cli_begin, before any work (a test that compares a module's output with
 * the library's, bit for bit, calls it first in its own main, so that both use the same
 * kernels). When OpenBLAS fell back to kernels far slower
 * than the CPU supports (ds_blas_core_correction in ds_threads.h: Debian 12's OpenBLAS on CPUs
 * newer than its table), execs the module again, same process and arguments, with
 * OPENBLAS_CORETYPE set; the new run says on stdout, after <filter-start>, which kernels it uses
 * instead of which. Returns (and the run goes on unchanged) when there is nothing to correct,
 * when the user set OPENBLAS_CORETYPE (their choice is kept), under valgrind (an exec would leave
 * the checked process), or when exec fails. */
void ds_cli_correct_blas_core(char **argv);
/* Reports overall progress in [0, 1] through the module's reporter (starts it if needed). */
void ds_cli_progress(ds_cli *cli, double fraction, const char *comment);
/* A log callback for ds_ctx_set_log: the core's messages as plain lines on stdout. */
void ds_cli_log(void *cli, ds_log_level level, const char *msg);

#ifdef __cplusplus
}
#endif

#endif
