/* The C ABI from C: version, errors, buffers, and invalid arguments that must not crash. */
#include "check.h"

#include <stdio.h>
#include <string.h>


int main(void) {
  mlrc_buf buf = {0, 0, 0};
  const mlrc_error *err;
  int rc;

  CHECK(mlrc_version_number() == MLRC_VERSION_NUMBER);
  CHECK(strcmp(mlrc_version_string(), "0.1.0") == 0);
  err = mlrc_error_last();
  CHECK(err != NULL && err->code == MLRC_OK && err->message != NULL);

  rc = mlrc_model_spec_parse(&buf, "openai-compatible:http://127.0.0.1:8000/v1#qwen");
  CHECK(rc == 0);
  CHECK(buf.ptr != NULL && strstr(buf.ptr, "\"model\":\"qwen\"") != NULL);
  CHECK(buf.size == strlen(buf.ptr));
  mlrc_buf_dispose(&buf);
  CHECK(buf.ptr == NULL && buf.size == 0);
  mlrc_buf_dispose(&buf); /* idempotent */
  mlrc_buf_dispose(NULL); /* NULL-safe */

  rc = mlrc_model_spec_parse(&buf, "nosuch:model");
  CHECK(rc == MLRC_ECONFIG);
  err = mlrc_error_last();
  CHECK(err->code == MLRC_ECONFIG && strstr(err->message, "unknown provider 'nosuch'") != NULL);
  CHECK(buf.ptr == NULL);

  rc = mlrc_model_spec_parse(NULL, "openai:gpt-4o");
  CHECK(rc == MLRC_EINVALID);
  rc = mlrc_model_spec_parse(&buf, NULL);
  CHECK(rc == MLRC_EINVALID && strstr(mlrc_error_last()->message, "spec is NULL") != NULL);

  rc = mlrc_model_spec_parse(&buf, "openai:gpt-4o");
  CHECK(rc == 0 && mlrc_error_last()->code == MLRC_OK);
  mlrc_buf_dispose(&buf);

  return CHECK_SUMMARY();
}
