/* SPDX-License-Identifier: MIT */
/*
 * Durations and rates as the job file writes them (lib/util/duration.h). The
 * loader turns every "timeout", "seconds" and limit "rate" through these,
 * so the accepted grammar is pinned here value by value.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "util/duration.h"

TestSuite(duration, .timeout = 10);

static double dur_ok(const char *s)
{
  const char *why = NULL;
  double v = -1;

  cr_assert_eq(corun_duration_parse(s, &v, &why), 0, "\"%s\" rejected: %s", s,
               why ? why : "(no reason)");
  return v;
}

/* Returns the reason, which must be given for every rejection. */
static const char *dur_bad(const char *s)
{
  const char *why = NULL;
  double v = 12345;

  cr_assert_eq(corun_duration_parse(s, &v, &why), -1, "\"%s\" accepted as %g",
               s, v);
  cr_assert_not_null(why, "\"%s\": no reason given", s);
  cr_assert_gt(strlen(why), 0);
  /* A rejected value must not leak a half-parsed number to the caller. */
  cr_assert_eq(v, 12345, "\"%s\": out changed on failure", s);
  return why;
}

Test(duration, units)
{
  cr_assert_float_eq(dur_ok("250ms"), 0.25, 1e-12);
  cr_assert_float_eq(dur_ok("1.5s"), 1.5, 1e-12);
  cr_assert_float_eq(dur_ok("2m"), 120, 1e-12);
  cr_assert_float_eq(dur_ok("1h"), 3600, 1e-12);
  cr_assert_float_eq(dur_ok("0.5h"), 1800, 1e-12);
  cr_assert_float_eq(dur_ok("1500ms"), 1.5, 1e-12);
}

Test(duration, plain_numbers_are_seconds)
{
  cr_assert_float_eq(dur_ok("3"), 3, 1e-12);
  cr_assert_float_eq(dur_ok("0"), 0, 1e-12);
  cr_assert_float_eq(dur_ok("0.25"), 0.25, 1e-12);
  cr_assert_float_eq(dur_ok("1e2"), 100, 1e-12);
  cr_assert_float_eq(dur_ok("1E2s"), 100, 1e-12);
  cr_assert_float_eq(dur_ok("2.5e-1s"), 0.25, 1e-12);
}

Test(duration, rejects_negative)
{
  cr_assert_str_eq(dur_bad("-1"), "must not be negative");
  cr_assert_str_eq(dur_bad("-5s"), "must not be negative");
  cr_assert_str_eq(dur_bad("-0.001ms"), "must not be negative");
}

Test(duration, rejects_nan_and_infinity)
{
  /* strtod would take all of these; the format must not. */
  dur_bad("NaN");
  dur_bad("nan");
  dur_bad("inf");
  dur_bad("infinity");
  dur_bad("-inf");
  dur_bad("nans");
  cr_assert_str_eq(dur_bad("1e999"), "must be a finite duration");
  cr_assert_str_eq(dur_bad("1e999s"), "must be a finite duration");
}

Test(duration, rejects_garbage)
{
  dur_bad("");
  dur_bad("s");
  dur_bad("ms");
  dur_bad("soon");
  dur_bad(" 5s");
  dur_bad("0x10");
  dur_bad("1,5s");
  dur_bad("e5");
}

Test(duration, rejects_unknown_or_spaced_units)
{
  cr_assert_str_eq(dur_bad("5d"), "has an unknown unit (use ms, s, m or h)");
  dur_bad("5 s");
  dur_bad("5s ");
  dur_bad("5S");
  dur_bad("5sec");
  dur_bad("5us");
}

Test(duration, compound_in_decreasing_units)
{
  cr_assert_float_eq(dur_ok("1m30s"), 90, 1e-12);
  cr_assert_float_eq(dur_ok("1h5m"), 3900, 1e-12);
  cr_assert_float_eq(dur_ok("1h0m1s"), 3601, 1e-12);
  cr_assert_float_eq(dur_ok("2s500ms"), 2.5, 1e-12);
  cr_assert_float_eq(dur_ok("1h2m3s4ms"), 3723.004, 1e-9);
  /* A fraction may stand in any part, as in Go's durations. */
  cr_assert_float_eq(dur_ok("1m30.5s"), 90.5, 1e-12);
  cr_assert_float_eq(dur_ok("1.5h30m"), 7200, 1e-12);
}

Test(duration, compound_rejects_disorder_and_repeats)
{
  const char *order = "has its units out of order (largest first, each "
                      "once: \"1h5m\", \"1m30s\")";

  cr_assert_str_eq(dur_bad("30s1m"), order);
  cr_assert_str_eq(dur_bad("1m1m"), order);
  cr_assert_str_eq(dur_bad("1s1s"), order);
  cr_assert_str_eq(dur_bad("5ms1s"), order);
  cr_assert_str_eq(dur_bad("1m30"),
                   "needs a unit on every part (\"1m30s\", not \"1m30\")");
  cr_assert_str_eq(dur_bad("1m30x"), "has an unknown unit (use ms, s, m or h)");
  dur_bad("1m 30s");
  dur_bad("1m-30s");
  dur_bad("1m+30s");
  dur_bad("1ms ");
  dur_bad("m30s");
  /* The sign of the first part would otherwise apply to it alone. */
  cr_assert_str_eq(dur_bad("-1m30s"), "must not be negative");
  cr_assert_str_eq(dur_bad("-0m5s"), "must not be negative");
  cr_assert_str_eq(dur_bad("1e999h1s"), "must be a finite duration");
  dur_bad("277777h60m");
}

Test(duration, rejects_absurdly_large)
{
  /* A bound keeps seconds * 1000 well inside an unsigned 64-bit count. */
  cr_assert_float_eq(dur_ok("1e9"), 1e9, 1);
  dur_bad("1.1e9");
  dur_bad("300000h");
}

Test(duration, json_numbers_and_strings)
{
  cJSON *n = cJSON_CreateNumber(1.25), *s = cJSON_CreateString("2m");
  cJSON *neg = cJSON_CreateNumber(-0.5), *b = cJSON_CreateTrue();
  cJSON *nul = cJSON_CreateNull(), *arr = cJSON_CreateArray();
  const char *why = NULL;
  double v = 0;

  cr_assert_eq(corun_duration_json(n, &v, &why), 0);
  cr_assert_float_eq(v, 1.25, 1e-12);
  cr_assert_eq(corun_duration_json(s, &v, &why), 0);
  cr_assert_float_eq(v, 120, 1e-12);
  cr_assert_eq(corun_duration_json(neg, &v, &why), -1);
  cr_assert_str_eq(why, "must not be negative");
  cr_assert_eq(corun_duration_json(b, &v, &why), -1);
  cr_assert_not_null(strstr(why, "must be a duration"), "%s", why);
  cr_assert_eq(corun_duration_json(nul, &v, &why), -1);
  cr_assert_eq(corun_duration_json(arr, &v, &why), -1);
  cJSON_Delete(n);
  cJSON_Delete(s);
  cJSON_Delete(neg);
  cJSON_Delete(b);
  cJSON_Delete(nul);
  cJSON_Delete(arr);
}

Test(duration, json_number_nan_and_inf)
{
  /* cJSON can hold these even though JSON text cannot express them. */
  cJSON *nan_v = cJSON_CreateNumber(NAN), *inf_v = cJSON_CreateNumber(INFINITY);
  const char *why = NULL;
  double v = 0;

  cr_assert_eq(corun_duration_json(nan_v, &v, &why), -1);
  cr_assert_eq(corun_duration_json(inf_v, &v, &why), -1);
  cJSON_Delete(nan_v);
  cJSON_Delete(inf_v);
}

Test(duration, ms_rounds_up)
{
  cr_assert_eq(corun_duration_ms(0), 0);
  cr_assert_eq(corun_duration_ms(1.5), 1500);
  cr_assert_eq(corun_duration_ms(0.25), 250);
  cr_assert_eq(corun_duration_ms(0.0015), 2);
  cr_assert_eq(corun_duration_ms(0.0001), 1);
  cr_assert_eq(corun_duration_ms(1.0001), 1001);
  /* Binary fractions must not push an exact millisecond count up by one. */
  cr_assert_eq(corun_duration_ms(0.001), 1);
  cr_assert_eq(corun_duration_ms(0.1), 100);
  cr_assert_eq(corun_duration_ms(0.3), 300);
  cr_assert_eq(corun_duration_ms(2.675), 2675);
  cr_assert_eq(corun_duration_ms(1e9), 1000000000000ULL);
}

Test(duration, ms_never_turns_nonzero_into_zero)
{
  /*
   * The header promises a non-zero duration never becomes 0 ms (a sleep
   * of "0.0000000001s" must still wait for the next timer tick rather than
   * behave like "seconds": 0). The parser accepts such values.
   */
  cr_assert_eq(dur_ok("0.0000000001s"), 1e-10);
  cr_assert_geq(corun_duration_ms(1e-9), 1);
  cr_assert_geq(corun_duration_ms(1e-10), 1, "1e-10 s became %llu ms",
                corun_duration_ms(1e-10));
  cr_assert_geq(corun_duration_ms(1e-300), 1);
}

static double rate_ok(const char *s)
{
  const char *why = NULL;
  double v = -1;

  cr_assert_eq(corun_rate_parse(s, &v, &why), 0, "\"%s\" rejected: %s", s,
               why ? why : "(no reason)");
  return v;
}

static const char *rate_bad(const char *s)
{
  const char *why = NULL;
  double v = 12345;

  cr_assert_eq(corun_rate_parse(s, &v, &why), -1, "\"%s\" accepted as %g", s,
               v);
  cr_assert_not_null(why);
  cr_assert_eq(v, 12345);
  return why;
}

Test(duration, rates)
{
  cr_assert_float_eq(rate_ok("20/s"), 20, 1e-12);
  cr_assert_float_eq(rate_ok("5/m"), 5.0 / 60, 1e-12);
  cr_assert_float_eq(rate_ok("100/h"), 100.0 / 3600, 1e-12);
  cr_assert_float_eq(rate_ok("1.5/s"), 1.5, 1e-12);
  cr_assert_float_eq(rate_ok("0.5/m"), 0.5 / 60, 1e-12);
}

Test(duration, rates_must_be_positive)
{
  cr_assert_str_eq(rate_bad("0/s"), "must be a positive rate");
  cr_assert_str_eq(rate_bad("0.0/m"), "must be a positive rate");
  cr_assert_str_eq(rate_bad("-1/s"), "must be a positive rate");
  rate_bad("1e999/s");
}

Test(duration, rates_reject_garbage)
{
  rate_bad("x");
  rate_bad("");
  rate_bad("5");
  rate_bad("/s");
  rate_bad("5/");
  rate_bad("5/d");
  rate_bad("5/S");
  rate_bad("5 /s");
  rate_bad("5/s ");
  rate_bad("5/sec");
  rate_bad("nan/s");
  rate_bad("inf/s");
}

/* ---- sizes ---- */

static long long size_ok(const char *s)
{
  const char *why = NULL;
  long long v = -1;

  cr_assert_eq(corun_size_parse(s, &v, &why), 0, "\"%s\" rejected: %s", s,
               why ? why : "(no reason)");
  return v;
}

static const char *size_bad(const char *s)
{
  const char *why = NULL;
  long long v = 12345;

  cr_assert_eq(corun_size_parse(s, &v, &why), -1, "\"%s\" accepted as %lld", s,
               v);
  cr_assert_not_null(why, "\"%s\": no reason given", s);
  cr_assert_eq(v, 12345, "\"%s\": out changed on failure", s);
  return why;
}

Test(duration, size_units)
{
  cr_assert_eq(size_ok("0"), 0);
  cr_assert_eq(size_ok("1024"), 1024);
  cr_assert_eq(size_ok("7B"), 7);
  cr_assert_eq(size_ok("512KB"), 512000);
  cr_assert_eq(size_ok("10MB"), 10000000);
  cr_assert_eq(size_ok("1GB"), 1000000000);
  cr_assert_eq(size_ok("2TB"), 2000000000000LL);
  cr_assert_eq(size_ok("64KiB"), 65536);
  cr_assert_eq(size_ok("1MiB"), 1048576);
  cr_assert_eq(size_ok("1GiB"), 1073741824LL);
  cr_assert_eq(size_ok("1TiB"), 1099511627776LL);
  cr_assert_eq(size_ok("8192TiB"), 9007199254740992LL);
  /* A fraction is fine when the bytes come out whole, even where a
   * double's 1.1 * 1e6 would not be. */
  cr_assert_eq(size_ok("1.5KiB"), 1536);
  cr_assert_eq(size_ok("1.1MB"), 1100000);
  cr_assert_eq(size_ok("0.001GB"), 1000000);
  cr_assert_eq(size_ok("2.5GB"), 2500000000LL);
}

Test(duration, size_rejects)
{
  cr_assert_str_eq(size_bad("1.1KiB"), "is not a whole number of bytes");
  cr_assert_str_eq(size_bad("0.5B"), "is not a whole number of bytes");
  cr_assert_str_eq(size_bad("-1"), "must not be negative");
  cr_assert_str_eq(size_bad("-1KB"), "must not be negative");
  cr_assert_str_eq(size_bad("8193TiB"),
                   "is too large (at most 2^53 bytes, 8 PiB)");
  /* Whole digits are read exactly: 2^53 + 1 does not round down to pass. */
  cr_assert_eq(size_ok("9007199254740992"), 9007199254740992LL);
  cr_assert_str_eq(size_bad("9007199254740993"),
                   "is too large (at most 2^53 bytes, 8 PiB)");
  cr_assert_str_eq(size_bad("99999999999999999999999"),
                   "is too large (at most 2^53 bytes, 8 PiB)");
  cr_assert_str_eq(size_bad("10XB"), "has an unknown unit (use B, KB, MB, GB, "
                                     "TB, KiB, MiB, GiB or TiB)");
  cr_assert_not_null(strstr(size_bad("10mb"), "case-sensitive"));
  cr_assert_not_null(strstr(size_bad("1kib"), "case-sensitive"));
  cr_assert_not_null(strstr(size_bad("10 MB"), "no space"));
  size_bad("");
  size_bad("MB");
  size_bad("1e6");
  size_bad("1E3KB");
  size_bad("0x10");
  size_bad("10MB ");
  size_bad("10MBB");
  size_bad("inf");
  size_bad("nan");
}

Test(duration, size_json)
{
  cJSON *n = cJSON_CreateNumber(4096), *s = cJSON_CreateString("2MiB");
  cJSON *fr = cJSON_CreateNumber(1.5), *b = cJSON_CreateFalse();
  cJSON *inf_v = cJSON_CreateNumber(INFINITY);
  const char *why = NULL;
  long long v = 0;

  cr_assert_eq(corun_size_json(n, &v, &why), 0);
  cr_assert_eq(v, 4096);
  cr_assert_eq(corun_size_json(s, &v, &why), 0);
  cr_assert_eq(v, 2097152);
  cr_assert_eq(corun_size_json(fr, &v, &why), -1);
  cr_assert_eq(corun_size_json(b, &v, &why), -1);
  cr_assert_not_null(strstr(why, "must be a size"), "%s", why);
  cr_assert_eq(corun_size_json(inf_v, &v, &why), -1);
  cJSON_Delete(n);
  cJSON_Delete(s);
  cJSON_Delete(fr);
  cJSON_Delete(b);
  cJSON_Delete(inf_v);
}
