"""OpenCV, imported in one place: pyml reports a picture it cannot read in its own words,
so OpenCV's own log lines (`[ WARN:0@0.020] global loadsave.cpp ... findDecoder`) are
silenced once, here, before any call."""

from __future__ import annotations

import functools
import os

LOG_LEVEL_SILENT = 0  # cv2.utils.logging.LOG_LEVEL_SILENT


@functools.cache
def cv2():
    # Read by OpenCV when it loads (if nothing imported it before); the calls below cover
    # the other case. Builds differ in where they offer the call (4.10's wheel has
    # cv2.setLogLevel; others only cv2.utils.logging.setLogLevel).
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    import cv2 as opencv

    if hasattr(opencv, "setLogLevel"):
        opencv.setLogLevel(LOG_LEVEL_SILENT)
    elif hasattr(getattr(opencv, "utils", None), "logging"):
        opencv.utils.logging.setLogLevel(LOG_LEVEL_SILENT)
    return opencv


__all__ = ["cv2"]
