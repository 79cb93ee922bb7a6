import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# The test runner may pass the library location in MLRCOPILOT_TEST_LIB (file or folder);
# otherwise use the build tree. Must be set before mlrcopilot is imported.
os.environ.setdefault("MLRC_LIB_PATH",
                      os.environ.get("MLRCOPILOT_TEST_LIB", str(REPO / "build" / "default" / "capi")))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
