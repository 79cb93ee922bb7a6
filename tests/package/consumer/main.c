#include <mlrcopilot.h>
#include <stdio.h>

int main(void) {
  printf("libmlrcopilot %s\n", mlrc_version_string());
  return mlrc_version_number() == MLRC_VERSION_NUMBER ? 0 : 1;
}
