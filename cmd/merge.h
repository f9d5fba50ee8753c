/* SPDX-License-Identifier: MIT */
/*
 * corun merge: the shard reports of one job joined into the outputs of
 * one run (the library's corun_merge() does the work).
 */
#ifndef CORUN_CMD_MERGE_H
#define CORUN_CMD_MERGE_H

/*
 * "corun merge [--report F] [--junit F] [--html F] [--trace F]
 * [--results PATH]... REPORT...": argv[0] is "merge". Returns the exit
 * status: the merged run's (0 or 1, or an interrupted shard's), or 2.
 */
int merge_main(int argc, char **argv);

#endif
