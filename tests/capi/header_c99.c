/* Compiled as strict C99 with -pedantic -Werror: the public C header must stay clean C. */
#include "mlrcopilot.h"

int mlrc_header_probe(void);
int mlrc_header_probe(void) {
  mlrc_buf b = {0, 0, 0};
  (void)b;
  return MLRC_VERSION_NUMBER + MLRC_EINVALID;
}
