/* The operator tables of every kernel family. Each family (one or more files
 * in this folder) defines one table, terminated by a row with op_type NULL. */
#include "ops.h"

static const em_op_entry *const families[] = {
    em_ops_elementwise, em_ops_shape, em_ops_nn, em_ops_reduce,
    em_ops_control, em_ops_misc,
};

const em_op_entry *em_op_lookup(const char *domain, const char *op_type, int opset)
{
    const em_op_entry *best = NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (const em_op_entry *e = families[f]; e->op_type; e++) {
            if (strcmp(e->op_type, op_type) != 0 || strcmp(e->domain, domain) != 0)
                continue;
            if (e->since <= opset && (!best || e->since > best->since))
                best = e;
        }
    }
    return best;
}

bool em_op_known(const char *domain, const char *op_type)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const em_op_entry *e = families[f]; e->op_type; e++)
            if (strcmp(e->op_type, op_type) == 0 && strcmp(e->domain, domain) == 0)
                return true;
    return false;
}
