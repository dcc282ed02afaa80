#include "ops.h"

const em_op_entry em_ops_reduce[] = {
    {NULL, NULL, 0, NULL, NULL, NULL},
};
