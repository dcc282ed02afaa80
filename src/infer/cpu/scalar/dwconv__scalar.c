/* Depthwise plane kernel, scalar build of dwconv_impl.h. */
#define EM_DW_NAME em_dwconv_plane__scalar
#include "../dwconv_impl.h"
