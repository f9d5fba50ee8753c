/* SPDX-License-Identifier: MIT */
/*
 * Small units under the loader, driven without a job: slabs, the
 * did-you-mean hint, the BOM, canonical paths, and the reader of the fields
 * every task has.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corun.h"

#include "util/bom.h"
#include "util/slab.h"
#include "util/suggest.h"
#include "core/common.h"
#include "core/kind.h"

Test(slab, pieces_are_zeroed_aligned_and_apart)
{
  struct corun_slab *s = NULL;
  unsigned char *a = corun_slab_alloc(&s, 40, 16);
  unsigned char *b = corun_slab_alloc(&s, 3, 1);
  unsigned char *c = corun_slab_alloc(&s, 24, 16);
  size_t i;

  cr_assert(a && b && c);
  cr_expect_eq((uintptr_t)a % 16, 0);
  cr_expect_eq((uintptr_t)c % 16, 0);
  cr_expect(b >= a + 40, "the second piece overlaps the first");
  cr_expect(c >= b + 3, "the third piece overlaps the second");
  for (i = 0; i < 40; i++)
    cr_expect_eq(a[i], 0);
  memset(a, 0xff, 40);
  memset(b, 0xff, 3);
  for (i = 0; i < 24; i++)
    cr_expect_eq(c[i], 0);
  corun_slab_free(&s);
  cr_expect_null(s);
}

Test(slab, grows_and_takes_pieces_bigger_than_a_slab)
{
  struct corun_slab *s = NULL;
  size_t i;
  char *big;

  /* Many small pieces fill several slabs; each stays writable. */
  for (i = 0; i < 100000; i++) {
    char *p = corun_slab_alloc(&s, 48, 16);

    cr_assert_not_null(p);
    memset(p, 'x', 48);
  }
  big = corun_slab_alloc(&s, (size_t)40 << 20, 16);
  cr_assert_not_null(big);
  big[((size_t)40 << 20) - 1] = 1;
  cr_expect_null(corun_slab_alloc(&s, SIZE_MAX - 8, 16));
  corun_slab_free(&s);
  cr_expect_null(s);
}

/* Whether the mapping holding p is marked for transparent huge pages. */
static int marked_huge(const void *p)
{
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0, hg = 0;

  cr_assert_not_null(f);
  while (fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    char dash;

    if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-')
      in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
    else if (in && strncmp(line, "VmFlags:", 8) == 0)
      hg = strstr(line, " hg") != NULL;
  }
  fclose(f);
  return hg;
}

Test(slab, a_reserve_is_one_slab_on_huge_pages_for_all_that_comes)
{
  const size_t huge = (size_t)2 << 20, piece = 1000;
  struct corun_slab *s = NULL;
  char *first, *p = NULL, *prev;
  size_t i;

  /* A small slab first, as a job's first tasks make. */
  cr_assert_not_null(corun_slab_alloc(&s, 100, 16));
  corun_slab_reserve(&s, (size_t)5 << 20);
  first = corun_slab_alloc(&s, piece, 16);
  cr_assert_not_null(first);
  /*
   * Within the header of a slab that starts on a huge page (from Linux
   * 6.7 the kernel aligns such a mapping itself; Debian 12's 6.1 does
   * not, and relies on the slab's own alignment).
   */
  cr_expect_lt((uintptr_t)first % huge, 64);
  if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0)
    cr_expect(marked_huge(first), "the reserved slab asks for huge pages");
  /* All 5 MiB come from it, piece after piece: no new slab on the way. */
  prev = first;
  for (i = 1; i < ((size_t)5 << 20) / piece; i++, prev = p) {
    p = corun_slab_alloc(&s, piece, 8);
    cr_assert_not_null(p);
    cr_assert_eq(p, prev + piece, "piece %zu left the reserved slab", i);
  }
  /* Room enough already: a reserve adds nothing. */
  corun_slab_reserve(&s, piece);
  cr_expect_eq(corun_slab_alloc(&s, piece, 8), prev + piece);
  corun_slab_free(&s);
  cr_expect_null(s);
}

Test(suggest, hint_reads_as_the_end_of_a_message)
{
  static const char *const keys[] = {"concurrency", "rate", NULL};
  char buf[CORUN_HINT_MAX];
  const char *name = "x";

  cr_expect_str_eq(corun_hint(buf, "rate", NULL, NULL),
                   " (did you mean \"rate\"?)");
  cr_expect_str_eq(corun_hint(buf, "env", "${", "}"),
                   " (did you mean \"${env}\"?)");
  cr_expect_str_eq(corun_hint(buf, NULL, NULL, NULL), "");
  cr_expect_str_eq(corun_did_you_mean(buf, "raet", keys, (size_t)-1, &name),
                   " (did you mean \"rate\"?)");
  cr_expect_str_eq(name, "rate");
  cr_expect_str_eq(corun_did_you_mean(buf, "zzzzzz", keys, 2, &name), "");
  cr_expect_null(name);
}

Test(bom, only_a_whole_mark_at_the_start)
{
  cr_expect_eq(corun_bom_len("\xef\xbb\xbf{}", 5), 3);
  cr_expect_eq(corun_bom_len("\xef\xbb", 2), 0);
  cr_expect_eq(corun_bom_len("{}", 2), 0);
  cr_expect_eq(corun_bom_len("", 0), 0);
}

/* A fields reader over obj alone, as a template's task would have it. */
static void fields_of(struct corun_fields *f, cJSON *obj,
                      struct corun_diags *d)
{
  memset(f, 0, sizeof(*f));
  f->obj = obj;
  f->diags = d;
  f->task = 0;
}

Test(common, template_tasks_cannot_be_placed_or_name_the_item_limit)
{
  cJSON *obj = cJSON_Parse("{\"id\": \"a\", \"after\": [\"b\"], "
                           "\"shield\": true, \"limit\": \"${item.l}\", "
                           "\"timeout\": \"2s\"}");
  struct corun_diags d = {0};
  struct corun_task t;
  struct corun_fields f;
  struct corun_common c;
  size_t i;
  int seen = 0;

  cr_assert_not_null(obj);
  memset(&t, 0, sizeof(t));
  fields_of(&f, obj, &d);
  corun__common_read(&t, &f, CORUN_COMMON_ALL | CORUN_COMMON_TEMPLATE, &c);
  cr_expect_null(c.id);
  cr_expect_null(c.after);
  cr_expect_null(c.limit);
  cr_expect_eq(t.flags, 0, "a template's shield is not taken");
  cr_assert_not_null(t.timeout);
  cr_expect_eq(t.timeout->ms, 2000);
  cr_assert_eq(d.n, 4);
  for (i = 0; i < d.n; i++) {
    cr_expect_eq(d.v[i].what, CORUN_DIAG_VALUE);
    cr_expect(corun__common_shapes(d.v[i].field), "%s", d.v[i].field);
    seen |= strcmp(d.v[i].field, "limit") == 0 &&
            strcmp(d.v[i].msg, "\"limit\" cannot depend on the item") == 0;
  }
  cr_expect(seen);
  free(t.timeout);
  corun__diags_free(&d);
  cJSON_Delete(obj);
}

Test(common, a_task_gets_its_id_after_and_limit_to_resolve)
{
  cJSON *obj = cJSON_Parse("{\"id\": \"bad id\", \"after\": [], "
                           "\"limit\": \"db\", \"shield\": true}");
  struct corun_diags d = {0};
  struct corun_task t;
  struct corun_fields f;
  struct corun_common c;

  cr_assert_not_null(obj);
  memset(&t, 0, sizeof(t));
  fields_of(&f, obj, &d);
  corun__common_read(&t, &f, CORUN_COMMON_ALL, &c);
  cr_expect_null(c.id);
  cr_expect_str_eq(c.bad_id, "bad id");
  cr_expect_null(c.after, "an empty \"after\" waits for nothing");
  cr_assert_not_null(c.limit);
  cr_expect_str_eq(c.limit->valuestring, "db");
  cr_expect(t.flags & CORUN_TF_SHIELD);
  cr_expect_null(t.timeout);
  cr_assert_eq(d.n, 1);
  cr_expect_str_eq(d.v[0].field, "id");
  corun__diags_free(&d);
  cJSON_Delete(obj);
}

Test(kind, names_come_from_the_one_list)
{
  const char *names[33];
  size_t i, n = corun__kind_names(names, 32);

  cr_assert_gt(n, 0);
  cr_expect_null(names[n]);
  for (i = 0; i < n; i++)
    cr_expect_eq(corun__kind_find(names[i]), corun__kind_at(i));
  cr_expect_null(corun__kind_at(n));
  cr_expect_eq(corun__kind_names(names, 1), 1);
  cr_expect_null(names[1]);
}

Test(kind, top_level_settings_come_from_the_kinds)
{
  const struct corun_job_setting *s;
  size_t i, idx = 99;

  for (i = 0; (s = corun__kind_setting_at(i)) != NULL; i++) {
    cr_expect_eq(corun__kind_setting(s->name, &idx), s);
    cr_expect_eq(idx, i);
    cr_expect_gt(s->max, 0);
  }
  cr_expect_null(corun__kind_setting("tasks", NULL));
}

/*
 * One file, however spelt, has one canonical name, before it exists too:
 * relative to the current directory, "." and ".." folded, links resolved.
 */
Test(path, canonical_names_one_file_one_way)
{
  char dir[] = "/tmp/corun-canon.XXXXXX", old[4096], real[4096];
  char *a, *b, *c, *d;

  cr_assert_not_null(mkdtemp(dir));
  cr_assert_not_null(realpath(dir, real));
  cr_assert_not_null(getcwd(old, sizeof(old)));
  cr_assert_eq(chdir(dir), 0);
  cr_assert_eq(mkdir("sub", 0755), 0);
  cr_assert_eq(symlink("sub", "link"), 0);
  a = corun_path_canonical("out.json");
  b = corun_path_canonical("./sub/../out.json");
  c = corun_path_canonical("link/x.json");
  d = corun_path_canonical("sub/x.json");
  cr_assert_eq(chdir(old), 0);
  cr_assert_str_eq(a, b);
  cr_assert_str_eq(c, d);
  cr_assert_eq(strncmp(a, real, strlen(real)), 0, "%s", a);
  cr_assert_str_eq(a + strlen(real), "/out.json");
  cr_assert_str_eq(d + strlen(real), "/sub/x.json");
  free(a);
  free(b);
  free(c);
  free(d);
  unlink(strcat(strcpy(old, dir), "/link"));
  rmdir(strcat(strcpy(old, dir), "/sub"));
  rmdir(dir);
}
