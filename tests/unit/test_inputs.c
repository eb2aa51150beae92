/* Jobs, manifests and responses: what is accepted and what is an error naming
 * the file and line. */
#include "benchmark.h"
#include "job.h"
#include "err.h"
#include "util.h"
#include "t.h"

#include <unistd.h>

static int has(const char *msg, const char *sub) { return strstr(msg, sub) != NULL; }

int main(void)
{
    t_name = "test_inputs";
    struct job j;
    const char *good = "{\"manifest\": \"m.jsonl\", \"output\": \"out/r.h5\", \"models\": [{\"name\": \"a\", \"backend\": \"responses\", \"responses\": \"x.jsonl\"}]}";
    CHECK_EQ_I(job_parse("jobs/j.json", good, &j), RC_OK, "a minimal job parses");
    CHECK_STR(j.manifest, "jobs/m.jsonl", "manifest relative to the job file");
    CHECK_STR(j.output, "jobs/out/r.h5", "output relative to the job file");
    CHECK_STR(j.parser, "strict", "strict parser by default");
    CHECK_EQ_I(j.n_models, 1, "one model");
    CHECK_STR(model_opt(&j.models[0], "responses")->str, "x.jsonl", "backend option kept");
    job_release(&j);
    int rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"modles\": []}", &j);
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "unknown key \"modles\"") && has(err_msg(), "j.json"), "unknown key is an error naming it");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\",\n \"output\": \"o\",\n \"models\": [}", &j);
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "j.json:3"), "bad JSON names the line");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"parser\": \"loose\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_OK, "job_parse keeps the parser's name (the benchmark checks it)");
    rc = benchmark_check_parser(benchmark_find(j.benchmark), j.parser, "j.json");
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "\"parser\" must be \"strict\" or \"paper\" for mmsafeaware, not 'loose'")
            && has(err_msg(), "j.json"), "unknown parser: the benchmark names its parsers");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"benchmark\": \"mmsafe\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_OK && !benchmark_find(j.benchmark) && has(err_msg(), "unknown benchmark 'mmsafe' (known: mmsafeaware, safebench, safebench-mini)"),
            "unknown benchmark: named, with the known ones");
    CHECK_T(benchmark_find_runnable("safebench") && benchmark_find("safebench")->judged && benchmark_find("safebench-mini")->judged &&
            !benchmark_find("mmsafeaware")->judged, "safebench and safebench-mini are judged benchmarks; mmsafeaware is not");
    CHECK_T(benchmark_find("mmsafeaware") == benchmark_find(NULL) && benchmark_find("") == benchmark_find(NULL),
            "mmsafeaware is the default (files from before benchmarks were recorded)");
    job_release(&j);
    /* judged benchmarks' keys */
    rc = job_parse("d/j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"benchmark\": \"safebench\", \"max_new_tokens\": 300, "
                   "\"judge_prompt\": \"p.txt\", \"deliberation_prompt\": [\"h.txt\", \"t.txt\"], \"generation_wrapper\": \"w.json\", "
                   "\"rounds\": 2, \"tie\": \"safe\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}], "
                   "\"judges\": [{\"name\":\"j1\",\"backend\":\"native\",\"prompt\":\"own.txt\",\"max_new_tokens\":64},{\"name\":\"j2\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_OK && j.n_judges == 2 && j.judges[0].role == ROLE_JUDGE && j.models[0].role == ROLE_MODEL && j.max_new_tokens == 300 &&
            j.rounds == 2 && !strcmp(j.tie, "safe") && !strcmp(j.judge_prompt, "d/p.txt") && !strcmp(j.delib_head, "d/h.txt") &&
            !strcmp(j.delib_tail, "d/t.txt") && !strcmp(j.gen_wrapper, "d/w.json") && !strcmp(j.judges[0].prompt, "d/own.txt") &&
            !j.judges[1].prompt && model_opt(&j.judges[0], "max_new_tokens") && !model_opt(&j.judges[0], "prompt") && j.has_jury_keys &&
            job_find_judge(&j, "j2") == 1 && job_find_judge(&j, "a") == -1,
            "judges, their prompt files (resolved against the job's folder) and the jury's keys");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_OK && j.rounds == -1 && !strcmp(j.tie, "unsafe") && j.max_new_tokens == 512 && !j.has_jury_keys && !j.n_judges,
            "jury defaults: rounds by jury size, ties unsafe, 512 tokens");
    job_release(&j);
    const char *bad_jobs[][2] = {
        { "\"judges\": [{\"name\":\"a\",\"backend\":\"responses\"}]", "'a' is both a model and a judge" },
        { "\"judges\": [{\"name\":\"j\",\"backend\":\"x\"},{\"name\":\"j\",\"backend\":\"x\"}]", "two judges are named 'j'" },
        { "\"judges\": []", "\"judges\" must be a non-empty array" },
        { "\"judges\": [{\"backend\":\"x\"}]", "judges[0] has no \"name\"" },
        { "\"tie\": \"coin\"", "\"tie\" must be \"unsafe\"" },
        { "\"rounds\": 17", "\"rounds\" must be an integer in [0, 16]" },
        { "\"deliberation_prompt\": \"h.txt\"", "\"deliberation_prompt\" must be [\"HEAD.txt\", \"TAIL.txt\"]" },
        { "\"max_new_tokens\": 0", "\"max_new_tokens\" must be an integer in [1, 65536]" },
    };
    for (size_t k = 0; k < sizeof bad_jobs / sizeof bad_jobs[0]; k++) {
        char *t = util_fmt("{\"manifest\": \"m\", \"output\": \"o\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}], %s}", bad_jobs[k][0]);
        rc = job_parse("j.json", t, &j);
        CHECK_T(rc == RC_ECONFIG && has(err_msg(), bad_jobs[k][1]), "a bad jury key is refused, named");
        if (rc != RC_ECONFIG || !has(err_msg(), bad_jobs[k][1])) fprintf(stderr, "  case %zu: %s\n", k, err_msg());
        free(t);
        job_release(&j);
    }
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\",\"prompt\":\"p\"}]}", &j);
    CHECK_T(rc == RC_OK && model_opt(&j.models[0], "prompt") && !j.models[0].prompt, "\"prompt\" is a judge key: a model keeps it as a backend option (refused there)");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"models\": [{\"name\":\"a\",\"backend\":\"responses\"},{\"name\":\"a\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "two models are named 'a'"), "duplicate model names");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"models\": [{\"name\":\"a/b\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "may only contain"), "model name must be a safe group name");
    job_release(&j);
    rc = job_parse("j.json", "{\"manifest\": \"m\", \"output\": \"o\", \"chunk\": -1, \"models\": [{\"name\":\"a\",\"backend\":\"responses\"}]}", &j);
    CHECK_T(rc == RC_ECONFIG && has(err_msg(), "chunk"), "negative chunk refused");
    job_release(&j);

    struct manifest m;
    const char *man = "{\"id\": \"1\", \"image\": \"images/1.jpg\", \"prompt\": \"p1\", \"label\": \"safe\", \"subset\": \"oversafe\"}\n"
                      "\n"
                      "{\"id\": 2, \"image\": null, \"prompt\": \"p2\", \"label\": \"unsafe\", \"subset\": \"typical\", \"scenario\": \"x\"}\n";
    CHECK_EQ_I(manifest_parse("d/m.jsonl", man, strlen(man), &m), RC_OK, "manifest parses (blank lines skipped, numeric id)");
    CHECK_EQ_I(m.n, 2, "two items");
    CHECK_STR(m.items[0].image, "d/images/1.jpg", "image relative to the manifest folder");
    CHECK_T(m.items[1].image == NULL && m.n_no_image == 1, "null image kept and counted");
    CHECK_STR(m.items[1].id, "2", "numeric id as string");
    CHECK_EQ_I(m.items[1].label, LABEL_UNSAFE, "label");
    CHECK_EQ_I(m.n_subsets, 2, "subsets interned");
    CHECK_EQ_I(m.items[0].scenario, -1, "scenario optional");
    CHECK_EQ_I(strlen(m.sha256), 64, "sha256 recorded");
    manifest_release(&m);
    const char *bad1 = "{\"id\": \"1\", \"prompt\": \"p\", \"label\": \"safe\"}\nnot json\n";
    rc = manifest_parse("m.jsonl", bad1, strlen(bad1), &m);
    CHECK_T(rc == RC_EFORMAT && has(err_msg(), "m.jsonl:2"), "a line that is not JSON names its line");
    manifest_release(&m);
    const char *bad2 = "{\"id\": \"1\", \"prompt\": \"p\", \"label\": \"safe\"}\n{\"id\": \"1\", \"prompt\": \"q\", \"label\": \"safe\"}\n";
    rc = manifest_parse("m.jsonl", bad2, strlen(bad2), &m);
    CHECK_T(rc == RC_EFORMAT && has(err_msg(), "m.jsonl:2") && has(err_msg(), "duplicate id '1'"), "duplicate ids are an error");
    manifest_release(&m);
    const char *bad3 = "{\"id\": \"1\", \"prompt\": \"p\", \"label\": \"maybe\"}\n";
    rc = manifest_parse("m.jsonl", bad3, strlen(bad3), &m);
    CHECK_T(rc == RC_EFORMAT && has(err_msg(), "label"), "bad label");
    manifest_release(&m);
    const char *utf = "{\"id\": \"1\", \"prompt\": \"ok \xc3\xa9\", \"label\": \"safe\"}\n{\"id\": \"2\", \"prompt\": \"bad \xff\xfe\", \"label\": \"safe\"}\n";
    CHECK_EQ_I(manifest_parse("m.jsonl", utf, strlen(utf), &m), RC_OK, "invalid UTF-8 is per item, not a manifest error");
    CHECK_EQ_I(m.items[0].bad_utf8_at, -1, "valid UTF-8");
    CHECK_EQ_I(m.items[1].bad_utf8_at, 4, "invalid UTF-8 at byte 4");

    /* responses */
    char dir[] = "/tmp/mmsafe-test-inputs-XXXXXX";
    CHECK_T(mkdtemp(dir) != NULL, "temp dir");
    char *rp = util_fmt("%s/r.jsonl", dir);
    const char *r1 = "{\"id\": \"1\", \"response\": \"Yes\"}\n{\"id\": 2, \"response\": \"No\"}\n";
    util_write_file(rp, r1, strlen(r1));
    struct responses rs;
    CHECK_EQ_I(responses_load(rp, &m, &rs), RC_OK, "responses load");
    CHECK_STR(rs.resp[1], "No", "numeric response id maps to the item");
    responses_release(&rs);
    const char *r2 = "{\"id\": \"1\", \"response\": \"Yes\"}\n{\"id\": \"77\", \"response\": \"No\"}\n";
    util_write_file(rp, r2, strlen(r2));
    rc = responses_load(rp, &m, &rs);
    CHECK_T(rc == RC_EFORMAT && has(err_msg(), "r.jsonl:2") && has(err_msg(), "'77' is not in the manifest"), "a response id not in the manifest is an error");
    const char *r3 = "{\"id\": \"1\", \"response\": \"Yes\"}\n{\"id\": \"1\", \"response\": \"No\"}\n";
    util_write_file(rp, r3, strlen(r3));
    rc = responses_load(rp, &m, &rs);
    CHECK_T(rc == RC_EFORMAT && has(err_msg(), "second response"), "duplicate response ids are an error");
    unlink(rp);
    rmdir(dir);
    free(rp);
    manifest_release(&m);

    /* util */
    uint8_t d[32];
    char hx[65];
    util_sha256("abc", 3, d);
    util_hex(d, 32, hx);
    CHECK_STR(hx, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
    char big[1000];
    memset(big, 'a', sizeof big);
    util_sha256(big, sizeof big, d);
    util_hex(d, 32, hx);
    CHECK_STR(hx, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3", "sha256('a' x 1000)");
    CHECK_EQ_I(util_utf8_invalid_at("\xe2\x82\xac ok", 6), -1, "euro sign is valid");
    CHECK_EQ_I(util_utf8_invalid_at("ab\xc0\xaf", 4), 2, "overlong encoding refused");
    CHECK_EQ_I(util_utf8_invalid_at("ab\xe2\x82", 4), 2, "truncated sequence refused");
    CHECK_EQ_I(util_utf8_invalid_at("\xed\xa0\x80", 3), 0, "surrogate refused");
    return t_done();
}
