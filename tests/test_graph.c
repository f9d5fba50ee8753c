/* SPDX-License-Identifier: MIT */
/*
 * corun graph: the task tree and "after" edges as Graphviz DOT that dot
 * itself accepts (.ci/run installs graphviz; without dot the render test
 * fails rather than pass unchecked).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(graph, .timeout = 30);

static const char *job_text =
    "{\"name\": \"deploy \\\"prod\\\"\", \"limits\": {\"db\": 1}, \"tasks\": ["
    "{\"id\": \"build\", \"kind\": \"exec\", \"shell\": \"true\"},"
    "{\"id\": \"checks\", \"kind\": \"gather\", \"after\": [\"build\"], "
    " \"tasks\": ["
    "  {\"id\": \"unit\", \"kind\": \"sleep\", \"seconds\": 0},"
    "  {\"id\": \"race\", \"kind\": \"wait\", \"tasks\": ["
    "    {\"id\": \"a\", \"kind\": \"sleep\", \"seconds\": 0}]}]},"
    "{\"id\": \"migrate\", \"kind\": \"sleep\", \"seconds\": 0, "
    " \"limit\": \"db\", \"timeout\": 5, \"after\": [\"checks\", \"build\"]}]}";

static char *graph_of(const char *text)
{
  struct corun_job *job = load_ok(text);
  struct corun_buf b = CORUN_BUF_INIT;

  corun_job_graph(job, &b);
  corun_job_free(job);
  cr_assert(!b.oom);
  return corun_buf_detach(&b);
}

Test(graph, tree_and_after_edges)
{
  char *g = graph_of(job_text);

  cr_assert(strncmp(g, "digraph \"deploy \\\"prod\\\"\" {", 27) == 0, "%s", g);
  /* Containers are clusters, and each parent points at its children. */
  cr_assert(strstr(g, "subgraph \"cluster_checks\" {"), "%s", g);
  cr_assert(strstr(g, "subgraph \"cluster_race\" {"), "%s", g);
  cr_assert(strstr(g, "\"checks\" -> \"unit\";"), "%s", g);
  cr_assert(strstr(g, "\"checks\" -> \"race\";"), "%s", g);
  cr_assert(strstr(g, "\"race\" -> \"a\";"), "%s", g);
  /* "after" edges run from what must end ok to what waits for it. */
  cr_assert(strstr(g, "\"build\" -> \"checks\" [style=dashed"), "%s", g);
  cr_assert(strstr(g, "\"checks\" -> \"migrate\" [style=dashed"), "%s", g);
  cr_assert(strstr(g, "\"build\" -> \"migrate\" [style=dashed"), "%s", g);
  cr_assert(strstr(g, "[label=\"migrate\\nsleep, timeout 5s, limit db\"]"),
            "%s", g);
  cr_assert(g[strlen(g) - 2] == '}');
  free(g);
}

Test(graph, dot_renders_it)
{
  char *g = graph_of(job_text);
  char *path = write_temp("graph.dot", g);
  char cmd[1024];
  int rc;

  rc = system("command -v dot >/dev/null 2>&1");
  cr_assert_eq(rc, 0, "graphviz's dot is not installed (apt-get install "
                      "graphviz; .ci/run does)");
  snprintf(cmd, sizeof(cmd), "dot -Tsvg '%s' -o '%s.svg' 2>&1", path, path);
  rc = system(cmd);
  cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "dot rejected:\n%s", g);
  snprintf(cmd, sizeof(cmd), "grep -q '<svg' '%s.svg'", path);
  cr_assert_eq(system(cmd), 0);
  snprintf(cmd, sizeof(cmd), "%s.svg", path);
  unlink(cmd);
  unlink(path);
  free(path);
  free(g);
}

Test(graph, after_edges_name_their_run_if)
{
  char *g = graph_of(
      "{\"tasks\": [{\"id\": \"b\", \"kind\": \"sleep\", \"seconds\": 0},"
      "{\"id\": \"c\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"b\"], \"run_if\": \"all_done\"},"
      "{\"id\": \"n\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"b\"], \"run_if\": \"any_failed\"},"
      "{\"id\": \"o\", \"kind\": \"sleep\", \"seconds\": 0, "
      "\"after\": [\"b\"], \"run_if\": \"all_ok\"}]}");

  cr_assert(strstr(g, "\"b\" -> \"c\" [style=dashed, label=\"all_done\"];"),
            "%s", g);
  cr_assert(strstr(g, "\"b\" -> \"n\" [style=dashed, label=\"any_failed\"];"),
            "%s", g);
  cr_assert(strstr(g, "\"b\" -> \"o\" [style=dashed, label=\"after\"];"),
            "%s", g);
  free(g);
}

Test(graph, secrets_are_hidden)
{
  char *g;

  setenv("CORUN_GRAPH_SECRET", "hunter2", 1);
  g = graph_of("{\"name\": \"x-${env:CORUN_GRAPH_SECRET}\", \"tasks\": "
               "[{\"id\": \"t\", \"kind\": \"sleep\", \"seconds\": 0}]}");
  cr_assert_null(strstr(g, "hunter2"), "%s", g);
  cr_assert(strstr(g, "digraph \"x-***\""), "%s", g);
  free(g);
}
