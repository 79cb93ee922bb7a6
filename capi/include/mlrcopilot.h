/* mlrcopilot C ABI. C89/C99-clean; see docs/c-api.md.
 *
 * Conventions (libgit2/SQLite style): functions return 0 on success or a negative MLRC_E* code;
 * mlrc_error_last() describes the last failure on the calling thread. Whatever comes back through
 * an out-pointer belongs to the caller and is freed with the matching NULL-safe *_free or
 * mlrc_buf_dispose. No exception ever crosses this boundary. */
#ifndef MLRCOPILOT_H
#define MLRCOPILOT_H

#include <stddef.h>

#define MLRC_VERSION_MAJOR 0
#define MLRC_VERSION_MINOR 1
#define MLRC_VERSION_PATCH 0
#define MLRC_VERSION_NUMBER (MLRC_VERSION_MAJOR * 10000 + MLRC_VERSION_MINOR * 100 + MLRC_VERSION_PATCH)

#if defined(_WIN32)
#define MLRC_API __declspec(dllimport)
#elif defined(__GNUC__)
#define MLRC_API __attribute__((visibility("default")))
#else
#define MLRC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. Append only: values never change. They mirror mlrc::errc, negated. */
typedef enum mlrc_error_code {
  MLRC_OK = 0,
  MLRC_EINVALID = -1,   /* invalid argument (NULL, bad option, bad JSON) */
  MLRC_ECONFIG = -2,    /* bad or missing configuration */
  MLRC_EIO = -3,
  MLRC_ENETWORK = -4,
  MLRC_ETLS = -5,
  MLRC_ETIMEOUT = -6,
  MLRC_ECANCELLED = -7,
  MLRC_EHTTP = -8,
  MLRC_EAUTH = -9,
  MLRC_ERATELIMIT = -10,
  MLRC_ESERVER = -11,
  MLRC_EPROTOCOL = -12,
  MLRC_EPROVIDER = -13,
  MLRC_EBUDGET = -14,
  MLRC_ENOTFOUND = -15,
  MLRC_EUNSUPPORTED = -16,
  MLRC_EPARSE = -17,
  MLRC_EINTERNAL = -18,
  MLRC_EUSER = -100     /* a callback returned non-zero */
} mlrc_error_code;

/* The last error on this thread. Never NULL; valid until the next mlrc_* call on this thread. */
typedef struct mlrc_error {
  int code;                    /* an mlrc_error_code */
  const char *message;         /* library text; never contains a secret */
  const char *provider_text;   /* text from the provider or model, "" if none */
} mlrc_error;
MLRC_API const mlrc_error *mlrc_error_last(void);

/* A byte buffer returned by the library (UTF-8 text, NUL-terminated; size excludes the NUL). */
typedef struct mlrc_buf {
  char *ptr;
  size_t size;
  size_t reserved; /* the library's; do not touch */
} mlrc_buf;
/* Frees the buffer's memory and zeroes it. NULL-safe and idempotent. */
MLRC_API void mlrc_buf_dispose(mlrc_buf *buf);

/* Run-time version of the linked library (compare with MLRC_VERSION_NUMBER). */
MLRC_API int mlrc_version_number(void);
MLRC_API const char *mlrc_version_string(void);

/* Parses and normalises a model spec ("openai:gpt-4o", "openai-compatible:http://h:8000/v1#m").
 * On success *out holds {"provider":…,"model":…,"base_url":…,"spec":…} as JSON. */
MLRC_API int mlrc_model_spec_parse(mlrc_buf *out, const char *spec);

#ifdef __cplusplus
}
#endif
#endif /* MLRCOPILOT_H */
