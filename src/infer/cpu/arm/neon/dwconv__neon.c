/* Depthwise plane kernel, neon build of dwconv_impl.h. */
#define EM_DW_NAME em_dwconv_plane__neon
#include "../../dwconv_impl.h"
