#include "ctl.h"

const em_op_entry em_ops_control[] = {
    {"", "If", 1, ctl_if_prepare, ctl_if_run, NULL},
    {"", "Loop", 1, ctl_loop_prepare, ctl_loop_run, NULL},
    {"", "Scan", 8, ctl_scan8_prepare, ctl_scan8_run, NULL},
    {"", "Scan", 9, ctl_scan9_prepare, ctl_scan9_run, NULL},
    {"", "SequenceMap", 17, ctl_seqmap_prepare, ctl_seqmap_run, NULL},
    {"", "SequenceConstruct", 11, NULL, ctl_seq_construct_run, NULL},
    {"", "SequenceEmpty", 11, ctl_seq_empty_prepare, ctl_seq_empty_run, NULL},
    {"", "SequenceAt", 11, NULL, ctl_seq_at_run, NULL},
    {"", "SequenceErase", 11, NULL, ctl_seq_erase_run, NULL},
    {"", "SequenceInsert", 11, NULL, ctl_seq_insert_run, NULL},
    {"", "SequenceLength", 11, NULL, ctl_seq_length_run, NULL},
    {"", "SplitToSequence", 11, ctl_split_to_seq_prepare, ctl_split_to_seq_run, NULL},
    {"", "ConcatFromSequence", 11, ctl_concat_from_seq_prepare, ctl_concat_from_seq_run, NULL},
    {"", "Optional", 15, NULL, ctl_optional_run, NULL},
    {"", "OptionalGetElement", 15, NULL, ctl_opt_get_run, NULL},
    {"", "OptionalHasElement", 15, NULL, ctl_opt_has_run, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL},
};
