/*
 * cli.h - the command table's entry points.  Each command lives in the file
 * named after it and returns an exit code: 0 ok, 1 run-level error, 2 usage.
 * Commands print their own --help.  main.c only dispatches.
 */
#ifndef MMSAFE_CLI_H
#define MMSAFE_CLI_H

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

int cmd_import(int argc, char **argv);   /* import.c */
int cmd_check(int argc, char **argv);    /* check.c */
int cmd_run(int argc, char **argv);      /* runner.c */
int cmd_reduce(int argc, char **argv);   /* reduce.c */
int cmd_merge(int argc, char **argv);    /* merge.c */
int cmd_sweep_job(int argc, char **argv); /* merge.c */
int cmd_report(int argc, char **argv);   /* report.c: runs analysis/report.py */
/* model commands: cmd_model.c (engine front-end, no MPI) */
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);   /* cmd_vision.c */
int cmd_embed_image(int argc, char **argv);  /* cmd_vision.c */
/* `logits` with --mmproj/--image (cmd_vision.c; cmd_logits hands over) and its --help part */
int cmd_logits_image(int argc, char **argv);
const char *cmd_logits_image_help(void);
int cmd_generate_image(int argc, char **argv);
const char *cmd_generate_image_help(void);

/* Small argv helpers shared by the commands. */
int cli_is_help(const char *a);                        /* -h / --help */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cli_version(void);
/* A whole number lo..hi from option opt's value v, else a usage error naming
 * both (returns EXIT_USAGE; "OPT needs a number from LO to HI, not 'V'"). */
int cli_parse_num(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out);

#endif
