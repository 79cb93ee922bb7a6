/* The C tests' one assertion: counts passes and failures, printing each failure with the
 * library's last error. A test's main ends with CHECK_SUMMARY(). */
#ifndef MLRC_TEST_CHECK_H
#define MLRC_TEST_CHECK_H

#include "mlrcopilot.h"

#include <stdio.h>

static int passed = 0, failed = 0;
#define CHECK(cond)                                                                                  \
  do {                                                                                               \
    if (cond) {                                                                                      \
      passed++;                                                                                      \
    } else {                                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s (last error %d: %s)\n", __FILE__, __LINE__, #cond, \
              mlrc_error_last()->code, mlrc_error_last()->message);                                 \
      failed++;                                                                                      \
    }                                                                                                \
  } while (0)
#define CHECK_SUMMARY() (printf("%d passed, %d failed\n", passed, failed), failed ? 1 : 0)

#endif
